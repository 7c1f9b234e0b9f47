// The files a pipeline run leaves in OUT (docs/PIPELINE.md lists them): paths, frame sets as PNG, JSON
// documents (cJSON, written to a temporary file and renamed into place), the contact sheet.
#ifndef PC_PIPELINE_EVIDENCE_H
#define PC_PIPELINE_EVIDENCE_H

#include <cjson/cJSON.h>

#include "posecrafter/core.h"
#include "posecrafter/image.h"

// mkdir -p
pc_status pc_pipe_mkdir(const char *path, pc_error *err);
// "dir/name" (malloc; NULL when out of memory)
char *pc_path_join(const char *dir, const char *name);
// doc printed by cJSON (formatted) plus a newline into path; path NULL: to stdout.
pc_status pc_evidence_json(const char *path, const cJSON *doc, pc_error *err);

// frames: n RGB images saved as dir/<prefix>_XX.png / loaded back (each must be W x H x 3)
pc_status pc_frames_save(const pc_image *frames, int n, const char *dir, const char *prefix, pc_error *err);
pc_status pc_frames_load(pc_image *frames, int n, const char *dir, const char *prefix, int W, int H, pc_error *err);

// contact sheet: A, B on the first row, then every candidate, selected ones framed in green
pc_status pc_contact_sheet(const char *path, const pc_image *a, const pc_image *b, const pc_image *frames, int n,
                           const uint8_t *selected, pc_error *err);

#endif
