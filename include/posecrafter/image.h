/* posecrafter public API: image (placeholder until this area lands). */
#ifndef POSECRAFTER_IMAGE_H
#define POSECRAFTER_IMAGE_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
