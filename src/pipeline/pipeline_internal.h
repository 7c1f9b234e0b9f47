// Internal pieces of the PoseCrafter pipeline (src/pipeline/pipeline*.c, recon.c).
#ifndef PC_PIPELINE_INTERNAL_H
#define PC_PIPELINE_INTERNAL_H

#include "posecrafter/dust3r.h"
#include "posecrafter/sparse_ga.h"
#include "posecrafter/pipeline.h"
#include "pipeline/evidence.h"
#include "pipeline/stage_cache.h"

// DUSt3R (a symmetrized scene graph, complete by default) + global alignment over n images: dust3r's demo get_reconstructed_scene
// (PairViewer for two views, PointCloudOptimizer with MST init otherwise).
typedef struct pc_recon {
    int n;
    int *H, *W;              // (n) DUSt3R working size of each view
    int (*map)[6];           // (n) original W0, H0, resized Wn, Hn, crop x0, y0 (pixel mapping back)
    pc_image *u8;            // (n) the preprocessed RGB crops (H, W, 3)
    pc_align_result res;     // cameras (c2w, focals, pp) at the working size
    float **pts;             // n x (H W 3) world points
    float **conf;            // n x (H W) per-pixel confidence: max over the edges (dust3r im_conf)
    double loss;             // final GA loss (0 for PairViewer)
    int pairviewer;          // 1: two views aligned by PairViewer (dust3r's demo does the same)
    int sparse;              // 1: MASt3R's sparse global alignment (pc_recon_run_sparse); loss = its last loss
    int n_known;             // views whose intrinsics were fixed (the known argument)
} pc_recon;

// graph: dust3r make_pairs scene graph (NULL = "complete"), symmetrized.
// known: NULL, or (n) intrinsics in pixels of imgs[k] with fx <= 0 for "unknown": those views' focal
// ((fx' + fy') / 2 after the resize) and principal point are mapped through the same resize + crop as
// the image and fixed in the alignment (pc_align_intrinsics).
pc_status pc_recon_run(pc_recon *r, pc_dust3r *net, pc_pool *pool, const pc_image *imgs, int n, int size,
                       const char *graph, const pc_align_opts *o, const pc_intrinsics *known, pc_error *err);
// The same images through MASt3R's sparse global alignment (mast3r demo's sparse_global_alignment): the
// symmetrized complete graph, each pair's symmetric inference with descriptors, extract_correspondences,
// pc_sga_run, then every pixel densified (pts) with the canonical confidence (conf). net must be MASt3R.
// The descriptors of a pair are dropped as soon as its correspondences are extracted.
pc_status pc_recon_run_sparse(pc_recon *r, pc_dust3r *net, pc_pool *pool, const pc_image *imgs, int n, int size,
                              const pc_sga_opts *so, const pc_intrinsics *known, pc_error *err);
void pc_recon_free(pc_recon *r);
// Intrinsics of view k in pixels of the image given to pc_recon_run (undoing the resize + crop).
void pc_recon_intrinsics(const pc_recon *r, int k, double *fx, double *fy, double *cx, double *cy);
// cameras.json, COLMAP text, points.ply (pixels with conf > min_conf) into dir (created).
pc_status pc_recon_write(const pc_recon *r, const char *dir, const char *const *names, float min_conf, pc_error *err);

#endif
