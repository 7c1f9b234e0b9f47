/* posecrafter public API: eval (placeholder until this area lands). */
#ifndef POSECRAFTER_EVAL_H
#define POSECRAFTER_EVAL_H
#include "posecrafter/core.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
