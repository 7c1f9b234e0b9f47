// dev only (not built by CMake): OpenCV 4.6 blurs an ORB pyramid level (a ROI, in place) through the
// float separable-filter path, not the bit-exact fixed-point GaussianBlur; this shows the difference.
// g++ -O2 dev/blur_roi.cpp $(pkg-config --cflags --libs opencv4) && ./a.out IMAGE
#include <opencv2/opencv.hpp>
#include <cstdio>
int main(int argc, char **argv) {
    cv::Mat img = cv::imread(argv[1]), gray, out, big;
    cv::resize(img, img, cv::Size(512, 320), 0, 0, cv::INTER_AREA);
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    cv::GaussianBlur(gray, out, cv::Size(7, 7), 2, 2, cv::BORDER_REFLECT_101);
    cv::copyMakeBorder(gray, big, 32, 32, 32, 32, cv::BORDER_REFLECT_101);
    cv::Mat roi = big(cv::Rect(32, 32, 512, 320));
    cv::GaussianBlur(roi, roi, cv::Size(7, 7), 2, 2, cv::BORDER_REFLECT_101);
    printf("roi in-place differs: %d\n", cv::countNonZero(roi != out));
    cv::Mat f; gray.convertTo(f, CV_32F); cv::GaussianBlur(f, f, cv::Size(7,7), 2, 2, cv::BORDER_REFLECT_101);
    cv::Mat f8; f.convertTo(f8, CV_8U); printf("float path differs from roi: %d\n", cv::countNonZero(roi != f8));
    cv::Mat k = cv::getGaussianKernel(7, 2, CV_32F); cv::Mat s8; cv::sepFilter2D(gray, s8, CV_8U, k, k, cv::Point(-1,-1), 0, cv::BORDER_REFLECT_101);
    printf("sepFilter2D float kernel differs from roi: %d\n", cv::countNonZero(roi != s8));
    cv::FileStorage fs("build-feat/roi_blur.yml", cv::FileStorage::WRITE);
}
