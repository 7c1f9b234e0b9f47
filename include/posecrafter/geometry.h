/* posecrafter public API: geometry (placeholder until this area lands). */
#ifndef POSECRAFTER_GEOMETRY_H
#define POSECRAFTER_GEOMETRY_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
