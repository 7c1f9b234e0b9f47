// Internal header of the point renderer (src/render/render.c). The public API
// (settings, rasterize, composite, render, upsample) is in
// include/posecrafter/render.h; nothing internal is shared yet beyond it.
#ifndef PC_GEOMETRY_RENDER_H
#define PC_GEOMETRY_RENDER_H

#include "posecrafter/render.h"

#endif
