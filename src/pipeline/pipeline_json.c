// pose.json: the pipeline's result in the classical estimator's convention (X_B = R X_A + t), plus the
// intrinsics, the selection and per-stage timings. Documented in docs/PIPELINE.md.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/common.h"
#include "pipeline/evidence.h"
#include "posecrafter/pipeline.h"

// The names pose.json, the progress lines and the CLI use for the options.
const char *pc_backbone_name(pc_backbone b) {
    return b == PC_BACKBONE_MAST3R ? "MASt3R" : b == PC_BACKBONE_MAST3R_SPARSE ? "MASt3R (sparse GA)" : "DUSt3R";
}

const char *pc_selector_name(pc_selector s) {
    switch (s) {
    case PC_SELECT_FMS: return "fms";
    case PC_SELECT_SCS: return "scs";
    case PC_SELECT_ALL: return "all";
    case PC_SELECT_CONF: return "conf";
    }
    return "?";
}

pc_status pc_pipeline_write_json(const char *path, const pc_pipeline_result *r, const pc_pipeline_opts *o,
                                 pc_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    cJSON_AddStringToObject(root, "method", "posecrafter");
    cJSON_AddStringToObject(root, "backbone", o->backbone == PC_BACKBONE_MAST3R          ? "mast3r"
                                              : o->backbone == PC_BACKBONE_MAST3R_SPARSE ? "mast3r-sparse"
                                                                                         : "dust3r");
    cJSON_AddStringToObject(root, "convention", "X_B = R X_A + t, OpenCV camera axes, t of unit norm");
    cJSON *R = cJSON_AddArrayToObject(root, "R");
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(R, cJSON_CreateDoubleArray(r->R + 3 * i, 3));
    cJSON_AddItemToObject(root, "t", cJSON_CreateDoubleArray(r->t, 3));
    cJSON_AddItemToObject(root, "t_scene", cJSON_CreateDoubleArray(r->t_scene, 3));
    cJSON *K = cJSON_AddObjectToObject(root, "intrinsics");
    for (int v = 0; v < 2; v++) {
        cJSON *k = cJSON_AddObjectToObject(K, v ? "B" : "A");
        cJSON_AddNumberToObject(k, "fx", r->fx[v]);
        cJSON_AddNumberToObject(k, "fy", r->fy[v]);
        cJSON_AddNumberToObject(k, "cx", r->cx[v]);
        cJSON_AddNumberToObject(k, "cy", r->cy[v]);
        cJSON_AddNumberToObject(k, "width", r->width[v]);
        cJSON_AddNumberToObject(k, "height", r->height[v]);
        cJSON_AddBoolToObject(k, "fixed", r->K_fixed[v]);  // given by the user (--K-a / --K-b) and held fixed
    }
    cJSON *sel = cJSON_AddObjectToObject(root, "selection");
    cJSON_AddStringToObject(sel, "selector", pc_selector_name(o->selector));
    cJSON_AddStringToObject(sel, "candidates", r->candidates_from ? r->candidates_from : "");
    cJSON_AddNumberToObject(sel, "n_candidates", r->n_candidates);
    cJSON_AddNumberToObject(sel, "k", o->k);
    if (o->selector == PC_SELECT_FMS) cJSON_AddNumberToObject(sel, "threshold", o->fms_threshold);
    cJSON *fr = cJSON_AddArrayToObject(sel, "frames");
    cJSON *sc = cJSON_AddArrayToObject(sel, "scores");
    for (int i = 0; i < r->n_selected; i++) {
        cJSON_AddItemToArray(fr, cJSON_CreateNumber(r->selected[i]));
        cJSON_AddItemToArray(sc, cJSON_CreateNumber(r->scores ? r->scores[r->selected[i]] : 0));
    }
    cJSON_AddNumberToObject(root, "final_ga_loss", r->final_loss);
    cJSON *st = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(st, "seed", (double)o->seed);
    cJSON_AddNumberToObject(st, "width", o->W);
    cJSON_AddNumberToObject(st, "height", o->H);
    cJSON_AddNumberToObject(st, "interp_frames", o->interp.T);
    cJSON_AddNumberToObject(st, "interp_steps", o->interp.steps);
    cJSON_AddBoolToObject(st, "hvg", o->hvg);
    cJSON_AddBoolToObject(st, "diffusion_bf16", o->diffusion_bf16);
    cJSON_AddNumberToObject(st, "trajectory_poses", o->traj.n);
    cJSON_AddStringToObject(st, "trajectory_spacing", o->traj.spacing == PC_TRAJ_PER_SEGMENT ? "per-segment" : "total");
    cJSON_AddNumberToObject(st, "viewcrafter_steps", o->vc.steps);
    cJSON_AddNumberToObject(st, "dust3r_size", o->dust3r_size);
    cJSON_AddStringToObject(st, "device", o->device ? o->device : "cpu");
    cJSON_AddNumberToObject(st, "ga_iterations", o->ga.niter);
    cJSON *tm = cJSON_AddObjectToObject(root, "timings_s");
    cJSON *cached = cJSON_AddArrayToObject(root, "cached_stages");
    for (int i = 0; i < PC_PIPELINE_STAGES; i++) {
        if (!r->stages[i].name) continue;
        cJSON_AddNumberToObject(tm, r->stages[i].name, r->stages[i].seconds);
        if (r->stages[i].cached) cJSON_AddItemToArray(cached, cJSON_CreateString(r->stages[i].name));
    }
    cJSON_AddNumberToObject(tm, "total", r->total_s);
    cJSON_AddNumberToObject(root, "peak_rss_bytes", (double)r->peak_rss);
    pc_status s = pc_evidence_json(path, root, err);
    cJSON_Delete(root);
    return s;
}
