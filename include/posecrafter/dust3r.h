/* posecrafter public API: dust3r (placeholder until this area lands). */
#ifndef POSECRAFTER_DUST3R_H
#define POSECRAFTER_DUST3R_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
