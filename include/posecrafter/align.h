/* posecrafter public API: align (placeholder until this area lands). */
#ifndef POSECRAFTER_ALIGN_H
#define POSECRAFTER_ALIGN_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
