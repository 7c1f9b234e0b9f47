// dev only (not built by CMake): compare our ORB with OpenCV 4.6 on one image: keypoints, angles,
// descriptors, CPU time. Build: g++ -O2 -std=c++17 -Iinclude dev/orb_vs_opencv.cpp BUILD/libposecrafter.a \
//   $(pkg-config --cflags --libs opencv4) -lpng -ljpeg -lz -lcjson -lm -lpthread
// Run: ./orb_vs_opencv IMAGE [nfeatures [W H]]   (W H: resize with INTER_AREA first)
#include <opencv2/opencv.hpp>
#include <cstdio>
#include <cmath>
#include <map>
#include <time.h>
static double tcpu(){struct timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&ts); return ts.tv_sec+1e-9*ts.tv_nsec;}
extern "C" {
#include "posecrafter/features.h"
}
int main(int argc, char **argv) {
    cv::Mat img = cv::imread(argv[1]), gray;
    int nf = argc > 2 ? atoi(argv[2]) : 2000;
    if (argc > 3) cv::resize(img, img, cv::Size(atoi(argv[3]), atoi(argv[4])), 0, 0, cv::INTER_AREA);
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    cv::setNumThreads(1);
    auto orb = cv::ORB::create(nf);
    std::vector<cv::KeyPoint> kps; cv::Mat desc;
    double t0 = tcpu();
    for (int r = 0; r < 5; r++) orb->detectAndCompute(gray, cv::noArray(), kps, desc);
    double tcv = (tcpu() - t0) / 5;
    pc_orb_params p; pc_orb_default_params(&p); p.nfeatures = nf;
    pc_orb_features f = {0, 0, 0}; pc_error err; pc_orb_workspace ws = {0, 0, 0, 0};
    t0 = tcpu();
    for (int r = 0; r < 5; r++) if (pc_orb_detect_ws(&f, &ws, gray.data, gray.cols, gray.rows, (int)gray.step, &p, &err)) { printf("err %s\n", err.msg); return 1; }
    double tpc = (tcpu() - t0) / 5;
    printf("image %dx%d: opencv %zu kps %.2f ms, ours %d kps %.2f ms\n", gray.cols, gray.rows, kps.size(), tcv*1e3, f.n, tpc*1e3);
    std::map<long, int> ours;
    for (int i = 0; i < f.n; i++) {
        float s = powf(1.2f, f.kp[i].octave);
        long key = ((long)f.kp[i].octave << 40) | ((long)lrintf(f.kp[i].y / s) << 20) | lrintf(f.kp[i].x / s);
        ours[key] = i;
    }
    int per_oct_cv[16] = {0}, per_oct_pc[16] = {0}, found = 0, same_angle = 0, same_desc = 0, desc_same_angle = 0;
    double angle_err = 0; long hd = 0;
    for (int i = 0; i < f.n; i++) per_oct_pc[f.kp[i].octave]++;
    for (size_t i = 0; i < kps.size(); i++) {
        auto &k = kps[i]; per_oct_cv[k.octave]++;
        float s = powf(1.2f, k.octave);
        long key = ((long)k.octave << 40) | ((long)lrintf(k.pt.y / s) << 20) | lrintf(k.pt.x / s);
        auto it = ours.find(key);
        if (it == ours.end()) continue;
        found++;
        int j = it->second;
        double da = fabs(k.angle - f.kp[j].angle); if (da > 180) da = 360 - da;
        angle_err += da; if (da < 1e-3) same_angle++;
        int d = pc_hamming256(desc.ptr(i), f.desc + 32 * j); hd += d;
        if (d == 0) same_desc++; else if (getenv("V")) printf("   mismatch oct %d (%.0f,%.0f) hd %d angle %.5f\n", k.octave, k.pt.x/s, k.pt.y/s, d, k.angle);
        if (da < 1e-3 && d == 0) desc_same_angle++;
        if (found <= 3) printf("  kp oct %d (%.1f,%.1f) resp cv %g ours %g angle cv %.4f ours %.4f hd %d\n", k.octave, k.pt.x, k.pt.y, k.response, f.kp[j].response, k.angle, f.kp[j].angle, d);
    }
    printf("per octave cv/ours:"); for (int o = 0; o < 8; o++) printf(" %d/%d", per_oct_cv[o], per_oct_pc[o]); printf("\n");
    printf("found %d/%zu (%.1f%%), same angle %d, mean angle err %.4f, same desc %d, mean hamming %.3f\n", found, kps.size(), 100.0*found/kps.size(), same_angle, angle_err/found, same_desc, (double)hd/found);
    return 0;
}
