// OpenCV 4.x baseline for bench_pose_classical (built only when OpenCV is
// found; never part of the library or the tests): ORB(nfeatures) +
// BFMatcher(NORM_HAMMING, crossCheck) + findEssentialMat(RANSAC) + recoverPose,
// the way SuperGlue's evaluation (utils.estimate_pose) calls them: points
// normalised with each K, threshold = px / mean focal, prob 0.99999, the E
// candidate with the most recoverPose inliers wins.
#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstring>
#include <vector>

extern "C" int pc_bench_opencv_threads(int n) {
    cv::setNumThreads(n);
    return cv::getNumThreads();
}

// gray_a/gray_b: 8-bit gray (h, w). Returns 0 on success (pose found), 1 when
// no pose, fills R (row-major), t, inliers, matches and the seconds spent.
extern "C" int pc_bench_opencv_pose(const unsigned char *gray_a, int wa, int ha, const unsigned char *gray_b, int wb,
                                    int hb, const double Ka[4], const double Kb[4], int nfeatures, double thr_px,
                                    double R[9], double t[3], int *inliers, int *matches, double *seconds) {
    cv::Mat a(ha, wa, CV_8UC1, (void *)gray_a), b(hb, wb, CV_8UC1, (void *)gray_b);
    auto t0 = std::chrono::steady_clock::now();
    cv::Ptr<cv::ORB> orb = cv::ORB::create(nfeatures);
    std::vector<cv::KeyPoint> ka, kb;
    cv::Mat da, db;
    orb->detectAndCompute(a, cv::noArray(), ka, da);
    orb->detectAndCompute(b, cv::noArray(), kb, db);
    std::vector<cv::DMatch> m;
    if (!da.empty() && !db.empty()) cv::BFMatcher(cv::NORM_HAMMING, true).match(da, db, m);
    *matches = (int)m.size();
    *inliers = 0;
    int ok = 1;
    if (m.size() >= 5) {
        std::vector<cv::Point2d> pa, pb;
        for (auto &x : m) {
            cv::Point2f p = ka[x.queryIdx].pt, q = kb[x.trainIdx].pt;
            pa.emplace_back((p.x - Ka[2]) / Ka[0], (p.y - Ka[3]) / Ka[1]);
            pb.emplace_back((q.x - Kb[2]) / Kb[0], (q.y - Kb[3]) / Kb[1]);
        }
        double thr = thr_px / ((Ka[0] + Ka[1] + Kb[0] + Kb[1]) / 4.0);
        cv::Mat mask;
        cv::Mat E = cv::findEssentialMat(pa, pb, cv::Mat::eye(3, 3, CV_64F), cv::RANSAC, 0.99999, thr, mask);
        int best = -1;
        for (int i = 0; i + 3 <= E.rows; i += 3) {
            cv::Mat Ri, ti, mi = mask.clone();
            int n = cv::recoverPose(E.rowRange(i, i + 3), pa, pb, cv::Mat::eye(3, 3, CV_64F), Ri, ti, 1e9, mi);
            if (n > best) {
                best = n;
                for (int r = 0; r < 9; r++) R[r] = Ri.at<double>(r / 3, r % 3);
                for (int r = 0; r < 3; r++) t[r] = ti.at<double>(r);
                *inliers = n;
                ok = 0;
            }
        }
    }
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return ok;
}
