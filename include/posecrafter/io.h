/* posecrafter public API: io (placeholder until this area lands). */
#ifndef POSECRAFTER_IO_H
#define POSECRAFTER_IO_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
