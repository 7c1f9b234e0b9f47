// posecrafter eval / eval-merge — pose benchmarks from one command, resumable
// and sharded. Results: one JSON line per (pair, run), appended atomically.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "core/common.h"
#include "posecrafter.h"
#include "posecrafter/eval.h"
#include "posecrafter/fms.h"
#include "pipeline/pipeline_internal.h"

#define MAX_BINS 16
#define MAX_INPUTS 256

typedef struct {
    double lo, hi;
} yaw_bin;

typedef struct {
    const char *pairs_path, *root, *results, *method, *md_path, *csv_path, *plot_path, *model, *models_dir, *work;
    int size, runs, shard_i, shard_n, threads, max_new, quiet, known_K, mast3r;
    unsigned long long seed;
    yaw_bin bins[MAX_BINS];
    int n_bins;
} eval_args;

// What a method may keep between pairs (a loaded model) and its options.
typedef struct {
    const char *model_path;  // --model (dust3r-pair)
    int size;                // --size: DUSt3R preprocessing size
    pc_dust3r *net;          // loaded on first use
    const char *models_dir;  // --models / $POSECRAFTER_MODELS (posecrafter*)
    const char *work;        // per-pair evidence + stage cache folder (posecrafter*)
    int quiet;
    int known_K;             // --known-intrinsics: each pair's ground-truth K fixed in the alignment
    int mast3r;              // --backbone mast3r (1) / mast3r-sparse (2) (posecrafter*)
    pc_model_files mf;       // found on first use
    int have_mf;
} method_ctx;

typedef pc_status (*method_fn)(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                               unsigned long long seed, pc_error *err);

static pc_status method_classical(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                  unsigned long long seed, pc_error *err) {
    (void)mc;
    if (p->rot0 || p->rot1) return pc_err(err, PC_ERR_UNSUPPORTED, "pairs with rot0/rot1 != 0 are not supported yet");
    pc_image a = {0}, b = {0};
    pc_status st = pc_image_load(&a, p->img0, err);
    if (st == PC_OK) st = pc_image_load(&b, p->img1, err);
    if (st == PC_OK) {
        pc_classical_options o;
        pc_classical_options_default(&o);
        o.ransac.seed = seed;
        pc_intrinsics Ka = {p->K0[0], p->K0[4], p->K0[2], p->K0[5]}, Kb = {p->K1[0], p->K1[4], p->K1[2], p->K1[5]};
        st = pc_classical_pose(out, NULL, pool, &a, &b, &Ka, &Kb, &o, err);
    }
    pc_image_free(&a);
    pc_image_free(&b);
    return st;
}

// The pair's ground-truth K as the pipeline takes it (pixels of the stored images).
static void pair_K(pc_intrinsics K[2], const pc_eval_pair *p) {
    K[0] = (pc_intrinsics){p->K0[0], p->K0[4], p->K0[2], p->K0[5]};
    K[1] = (pc_intrinsics){p->K1[0], p->K1[4], p->K1[2], p->K1[5]};
}

// DUSt3R on (A, B) and (B, A), then PairViewer (dust3r demo for two images): the pipeline's reconstruction step
// on the two photos. DUSt3R estimates its own focals unless --known-intrinsics fixes the ground-truth K.
static pc_status pair_method(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                             unsigned long long seed, int mast3r, int sparse, pc_error *err) {
    if (p->rot0 || p->rot1) return pc_err(err, PC_ERR_UNSUPPORTED, "pairs with rot0/rot1 != 0 are not supported yet");
    pc_status st = PC_OK;
    if (!mc->net) {
        if (!mc->model_path)
            return pc_err(err, PC_ERR_ARG, "%s needs --model %s", mast3r ? "mast3r-pair" : "dust3r-pair",
                          mast3r ? "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth (published by naver/mast3r)"
                                 : "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth (published by naver/dust3r)");
        st = pc_dust3r_load(&mc->net, mc->model_path, pool, err);
        if (st != PC_OK) return st;
        if (pc_dust3r_has_desc(mc->net) != mast3r) {
            st = pc_err(err, PC_ERR_ARG, "%s is a %s checkpoint: use the %s method", mc->model_path,
                        mast3r ? "DUSt3R" : "MASt3R", mast3r ? "dust3r-pair" : "mast3r-pair");
            pc_dust3r_free(mc->net);
            mc->net = NULL;
            return st;
        }
        pc_dust3r_set_desc_output(mc->net, 0);  // the dense PairViewer reads pointmaps + confidences
    }
    pc_image img[2] = {{0}, {0}};
    pc_intrinsics K[2];
    pair_K(K, p);
    pc_recon rc;
    memset(&rc, 0, sizeof(rc));
    st = pc_image_load(&img[0], p->img0, err);
    if (st == PC_OK) st = pc_image_load(&img[1], p->img1, err);
    if (st == PC_OK) {
        pc_align_opts o;
        pc_align_opts_default(&o);
        o.seed = seed;
        pc_sga_opts so;
        pc_sga_opts_default(&so);
        so.matching_conf_thr = 0;  // mast3r's demo
        st = sparse ? pc_recon_run_sparse(&rc, mc->net, pool, img, 2, mc->size, &so, mc->known_K ? K : NULL, err)
                    : pc_recon_run(&rc, mc->net, pool, img, 2, mc->size, "complete", &o, mc->known_K ? K : NULL, err);
    }
    if (st == PC_OK) {
        float R[9], t[3];
        pc_align_relative_pose(R, t, rc.res.c2w[0], rc.res.c2w[1]);
        double n = sqrt((double)t[0] * t[0] + (double)t[1] * t[1] + (double)t[2] * t[2]);
        memset(out, 0, sizeof(*out));
        for (int i = 0; i < 9; i++) out->R[i] = R[i];
        for (int i = 0; i < 3; i++) out->t[i] = n > 0 ? t[i] / n : 0;
        if (!(n > 0)) st = pc_err(err, PC_ERR_NUMERIC, "PairViewer returned coincident camera centres");
    }
    pc_recon_free(&rc);
    pc_image_free(&img[0]);
    pc_image_free(&img[1]);
    return st;
}

static pc_status method_dust3r_pair(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                    unsigned long long seed, pc_error *err) {
    return pair_method(out, mc, pool, p, seed, 0, 0, err);
}

// The same with MASt3R's pointmaps (mast3r's demo_dust3r_ga: its dense outputs through dust3r's aligner).
static pc_status method_mast3r_pair(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                    unsigned long long seed, pc_error *err) {
    return pair_method(out, mc, pool, p, seed, 1, 0, err);
}

// MASt3R's sparse global alignment on the pair (mast3r demo: sparse_global_alignment).
static pc_status method_mast3r_sga(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                   unsigned long long seed, pc_error *err) {
    return pair_method(out, mc, pool, p, seed, 1, 1, err);
}

static void pipe_event(void *ctx, const pc_pipeline_event *ev) {
    (void)ctx;
    if (ev->n_steps > 0)
        fprintf(stderr, "\r    [%d/%d %s] step %d/%d   ", ev->stage, ev->n_stages, ev->name, ev->step, ev->n_steps);
    else if (ev->msg)
        fprintf(stderr, "\r    [%d/%d %s] %-60.60s", ev->stage, ev->n_stages, ev->name, ev->cached ? "cached" : ev->msg);
    fflush(stderr);
}

// The whole PoseCrafter pipeline per pair (hvg = 0: DynamiCrafter frames only). Evidence and the stage cache
// of each (pair, run) go to WORK/<id>_run<seed>, so a killed evaluation resumes inside a pair too.
static pc_status method_posecrafter_ex(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                       unsigned long long seed, int hvg, pc_error *err) {
    if (p->rot0 || p->rot1) return pc_err(err, PC_ERR_UNSUPPORTED, "pairs with rot0/rot1 != 0 are not supported yet");
    if (!mc->have_mf) {
        pc_model_files_default(&mc->mf);
        mc->mf.want_mast3r = mc->mast3r != 0;
        pc_status st = pc_model_files_find(&mc->mf, mc->models_dir, PC_VC_SPARSE, hvg, err);
        if (st != PC_OK) return st;
        mc->have_mf = 1;
    }
    char dir[8192], id[sizeof(p->id)];
    snprintf(id, sizeof(id), "%s", p->id);
    for (char *c = id; *c; c++)
        if (*c == '/' || *c == ' ' || *c == '\\') *c = '_';
    snprintf(dir, sizeof(dir), "%s/%s_seed%llu%s%s%s", mc->work, id, seed, hvg ? "" : "_nohvg", mc->known_K ? "_K" : "",
             mc->mast3r == 2 ? "_mast3r_sparse" : mc->mast3r ? "_mast3r" : "");
    pc_pipeline_opts o;
    pc_pipeline_opts_default(&o);
    o.hvg = hvg;
    o.backbone = mc->mast3r == 2 ? PC_BACKBONE_MAST3R_SPARSE : mc->mast3r ? PC_BACKBONE_MAST3R : PC_BACKBONE_DUST3R;
    o.seed = 12306 + seed;
    o.out_dir = dir;
    o.on_event = mc->quiet ? NULL : pipe_event;
    if (mc->known_K) pair_K(o.K, p);
    pc_image a = {0}, b = {0};
    pc_pipeline_result r;
    memset(&r, 0, sizeof(r));
    pc_status st = pc_image_load(&a, p->img0, err);
    if (st == PC_OK) st = pc_image_load(&b, p->img1, err);
    if (st == PC_OK) st = pc_pipeline_run(&r, &mc->mf, &o, &a, &b, pool, err);
    if (st == PC_OK) {
        memset(out, 0, sizeof(*out));
        memcpy(out->R, r.R, sizeof(out->R));
        memcpy(out->t, r.t, sizeof(out->t));
        out->n_inliers = r.n_selected;
    }
    pc_pipeline_result_free(&r);
    pc_image_free(&a);
    pc_image_free(&b);
    return st;
}

static pc_status method_posecrafter(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                    unsigned long long seed, pc_error *err) {
    return method_posecrafter_ex(out, mc, pool, p, seed, 1, err);
}

static pc_status method_posecrafter_nohvg(pc_relpose *out, method_ctx *mc, pc_pool *pool, const pc_eval_pair *p,
                                          unsigned long long seed, pc_error *err) {
    return method_posecrafter_ex(out, mc, pool, p, seed, 0, err);
}

static const struct {
    const char *name;
    method_fn fn;
    const char *about;
} methods[] = {
    {"classical", method_classical, "ORB-2000 + cross-checked matching + 5-point LO-RANSAC with the given K"},
    {"dust3r-pair", method_dust3r_pair, "DUSt3R on the pair + PairViewer (needs --model; --size, default 512)"},
    {"mast3r-pair", method_mast3r_pair, "MASt3R's pointmaps on the pair + PairViewer (needs a MASt3R --model)"},
    {"mast3r-sga", method_mast3r_sga, "MASt3R + its sparse global alignment on the pair (needs a MASt3R --model)"},
    {"posecrafter", method_posecrafter,
     "the full pipeline (pose A B defaults; needs --models DIR or $POSECRAFTER_MODELS; evidence in --work)"},
    {"posecrafter-nohvg", method_posecrafter_nohvg, "the pipeline with DynamiCrafter frames only (no ViewCrafter)"},
};

static void list_methods(FILE *f) {
    for (size_t i = 0; i < PC_ARRAY_LEN(methods); i++) fprintf(f, "  %-12s %s\n", methods[i].name, methods[i].about);
}

static int parse_bins(eval_args *a, const char *s) {
    a->n_bins = 0;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        double lo, hi;
        char extra;
        if (a->n_bins >= MAX_BINS || sscanf(tok, "%lf:%lf%c", &lo, &hi, &extra) != 2 || !(lo < hi) || lo < 0 || hi > 180)
            return 0;
        a->bins[a->n_bins].lo = lo;
        a->bins[a->n_bins].hi = hi;
        a->n_bins++;
    }
    return a->n_bins > 0;
}

static int opt_bins(void *ctx, const char *v) { return parse_bins((eval_args *)ctx, v); }

static int opt_shard(void *ctx, const char *v) {
    eval_args *a = (eval_args *)ctx;
    char extra;
    int si, sn;
    if (sscanf(v, "%d/%d%c", &si, &sn, &extra) != 2 || sn < 1 || si < 1 || si > sn) return 0;
    a->shard_i = si, a->shard_n = sn;
    return 1;
}

// Options that eval and eval-merge share (one declaration for both tables).
#define EVAL_COMMON_OPTS(a)                                                                                          \
    PC_OPT_STRING(0, "pairs", &(a).pairs_path, "LIST",                                                           \
                  "SuperGlue pair file (img0 img1 rot0 rot1 K0 K1 T_0to1) or JSON-lines manifest"),              \
        PC_OPT_STRING(0, "root", &(a).root, "DIR",                                                               \
                      "resolve image paths against DIR (default: the list's folder or its parent)"),            \
        PC_OPT_INT(0, "runs", &(a).runs, 1, 100, "N", "independent runs per pair with seeds seed+run"),         \
        PC_OPT_CALLBACK(0, "bins", opt_bins, &(a), "LIST", "LO:HI[,LO:HI...] with 0 <= LO < HI <= 180",          \
                        "yaw bins, e.g. 50:65,65:90 (default 50:65,65:90,50:90; 'all' rows always)"),           \
        PC_OPT_STRING(0, "md", &(a).md_path, "FILE", "also write the table as Markdown"),                         \
        PC_OPT_STRING(0, "csv", &(a).csv_path, "FILE", "also write the table as CSV"),                            \
        PC_OPT_STRING(0, "plot", &(a).plot_path, "FILE.png", "cumulative error curves (rotation and translation)"), \
        PC_OPT_FLAG(0, "quiet", &(a).quiet, "no progress line")

static void default_args(eval_args *a) {
    memset(a, 0, sizeof(*a));
    a->runs = 3;
    a->size = 512;
    a->shard_i = 1;
    a->shard_n = 1;
    a->max_new = -1;
    parse_bins(a, "50:65,65:90,50:90");
}

// ---- table --------------------------------------------------------------------

typedef struct {
    const pc_eval_result *r;
    size_t n;
} result_set;

// Summary over the results in `rs` of one method with dataset ds (NULL: all)
// and yaw in [lo, hi) (lo < 0: all), averaged over runs as the paper does.
static int summarize_group(pc_eval_summary *avg, double *avg_sec, const result_set *rs, const char *method,
                           const char *ds, double lo, double hi, int runs) {
    memset(avg, 0, sizeof(*avg));
    *avg_sec = 0;
    int used_runs = 0, n_pairs = 0;
    double *er = (double *)malloc((rs->n + 1) * sizeof(double)), *et = (double *)malloc((rs->n + 1) * sizeof(double)),
           *es = (double *)malloc((rs->n + 1) * sizeof(double));
    for (int run = 0; run < runs && er && et && es; run++) {
        int m = 0;
        double sec = 0;
        for (size_t i = 0; i < rs->n; i++) {
            const pc_eval_result *r = &rs->r[i];
            if (r->run != run || strcmp(r->method, method)) continue;
            if (ds && strcmp(r->dataset, ds)) continue;
            if (lo >= 0 && !pc_eval_in_yaw_bin(r->yaw, lo, hi)) continue;
            // a failed estimate counts as the largest error
            er[m] = r->ok ? r->err_R : 180.0;
            et[m] = r->ok ? r->err_t : 180.0;
            es[m] = r->ok ? PC_MIN(r->err_t, 180.0 - r->err_t) : 180.0;
            sec += r->seconds;
            m++;
        }
        if (m == 0) continue;
        pc_eval_summary s, sg;
        pc_eval_summarize(&s, er, et, NULL, m, 0, 180, NULL);
        // SuperGlue's AUC@5/10/20 uses its own translation error (t up to sign)
        pc_eval_summarize(&sg, er, es, NULL, m, 0, 180, NULL);
        avg->mre += s.mre;
        avg->mte += s.mte;
        avg->med_re += s.med_re;
        avg->med_te += s.med_te;
        for (int k = 0; k < 3; k++) {
            avg->r_at[k] += s.r_at[k];
            avg->t_at[k] += s.t_at[k];
            avg->auc_pose[k] += sg.auc_pose[k];
        }
        avg->auc30 += s.auc30;
        avg->auc30_rot += s.auc30_rot;
        avg->auc30_trans += s.auc30_trans;
        *avg_sec += sec / m;
        n_pairs = m;
        used_runs++;
    }
    free(er);
    free(et);
    free(es);
    if (!used_runs) return 0;
    double k = 1.0 / used_runs;
    avg->mre *= k, avg->mte *= k, avg->med_re *= k, avg->med_te *= k;
    for (int j = 0; j < 3; j++) avg->r_at[j] *= k, avg->t_at[j] *= k, avg->auc_pose[j] *= k;
    avg->auc30 *= k, avg->auc30_rot *= k, avg->auc30_trans *= k;
    *avg_sec *= k;
    avg->n = n_pairs;
    return used_runs;
}

static void write_table(FILE *f, int csv, const result_set *rs, const char *method, const eval_args *a) {
    // datasets in first-seen order
    const char *ds[256];
    int nds = 0;
    for (size_t i = 0; i < rs->n && nds < 256; i++) {
        if (strcmp(rs->r[i].method, method)) continue;
        int seen = 0;
        for (int k = 0; k < nds; k++) seen |= !strcmp(ds[k], rs->r[i].dataset);
        if (!seen) ds[nds++] = rs->r[i].dataset;
    }
    if (csv)
        fprintf(f, "method,dataset,yaw_bin,pairs,runs,MRE,MTE,R@5,R@15,R@30,T@5,T@15,T@30,AUC@30,AUC@5,AUC@10,AUC@20,sec_per_pair\n");
    else
        fprintf(f,
                "| method | dataset | yaw bin | pairs | runs | MRE° | MTE° | R@5 | R@15 | R@30 | T@5 | T@15 | T@30 | AUC@30 | "
                "AUC@5 | AUC@10 | AUC@20 | s/pair |\n"
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int d = nds > 1 ? -1 : 0; d < nds; d++) {  // an "all" block only when there are several datasets
        for (int b = -1; b < a->n_bins; b++) {
            pc_eval_summary s;
            double sec;
            double lo = b < 0 ? -1 : a->bins[b].lo, hi = b < 0 ? 0 : a->bins[b].hi;
            int runs = summarize_group(&s, &sec, rs, method, d < 0 ? NULL : ds[d], lo, hi, a->runs);
            if (!runs) continue;
            char bin[32];
            if (b < 0)
                snprintf(bin, sizeof(bin), "all");
            else
                snprintf(bin, sizeof(bin), "[%g,%g]", lo, hi);
            const char *dname = d < 0 ? "all" : ds[d];
            if (csv)
                fprintf(f, "%s,%s,%s,%d,%d,%.2f,%.2f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f\n", method, dname,
                        bin, s.n, runs, s.mre, s.mte, 100 * s.r_at[0], 100 * s.r_at[1], 100 * s.r_at[2], 100 * s.t_at[0],
                        100 * s.t_at[1], 100 * s.t_at[2], 100 * s.auc30, 100 * s.auc_pose[0], 100 * s.auc_pose[1],
                        100 * s.auc_pose[2], sec);
            else
                fprintf(f,
                        "| %s | %s | %s | %d | %d | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | "
                        "%.1f | %.3f |\n",
                        method, dname, bin, s.n, runs, s.mre, s.mte, 100 * s.r_at[0], 100 * s.r_at[1], 100 * s.r_at[2],
                        100 * s.t_at[0], 100 * s.t_at[1], 100 * s.t_at[2], 100 * s.auc30, 100 * s.auc_pose[0],
                        100 * s.auc_pose[1], 100 * s.auc_pose[2], sec);
        }
    }
}

static int write_tables(const result_set *rs, const eval_args *a) {
    // every method present, in first-seen order
    const char *ms[32];
    int nm = 0;
    for (size_t i = 0; i < rs->n && nm < 32; i++) {
        int seen = 0;
        for (int k = 0; k < nm; k++) seen |= !strcmp(ms[k], rs->r[i].method);
        if (!seen) ms[nm++] = rs->r[i].method;
    }
    printf("\nPercentages for R@/T@/AUC; errors in degrees; failed estimates count as 180°. Averaged over runs.\n\n");
    for (int m = 0; m < nm; m++) write_table(stdout, 0, rs, ms[m], a);
    const char *paths[2] = {a->md_path, a->csv_path};
    for (int k = 0; k < 2; k++) {
        if (!paths[k]) continue;
        char tmp[PC_EVAL_PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.tmp", paths[k]);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "posecrafter: cannot write %s\n", paths[k]);
            return 1;
        }
        for (int m = 0; m < nm; m++) write_table(f, k == 1, rs, ms[m], a);
        if (fclose(f) != 0 || rename(tmp, paths[k]) != 0) {
            fprintf(stderr, "posecrafter: cannot write %s\n", paths[k]);
            return 1;
        }
    }
    if (a->plot_path) {
        pc_error err;
        if (pc_eval_plot_png(a->plot_path, rs->r, rs->n, &err) != PC_OK) {
            fprintf(stderr, "posecrafter: plot: %s\n", err.msg);
            return 1;
        }
        fprintf(stderr, "wrote %s\n", a->plot_path);
    }
    return 0;
}

// ---- eval ---------------------------------------------------------------------------

static int result_done(const pc_eval_result *rs, size_t n, const char *id, const char *method, int run) {
    for (size_t i = 0; i < n; i++)
        if (rs[i].run == run && !strcmp(rs[i].id, id) && !strcmp(rs[i].method, method)) return 1;
    return 0;
}

int pc_cmd_eval(int argc, char **argv) {
    eval_args a;
    default_args(&a);
    static const char *const bb_names[] = {"dust3r", "mast3r", "mast3r-sparse", NULL};
    const pc_opt opts[] = {
        EVAL_COMMON_OPTS(a),
        PC_OPT_STRING(0, "method", &a.method, "NAME", "estimator (see below)"),
        PC_OPT_STRING(0, "results", &a.results, "FILE",
                      "JSON-lines results, appended; an existing file is resumed\n"
                      "(default: results_<method>.jsonl, or ..._shard<i>of<n>.jsonl)"),
        PC_OPT_U64(0, "seed", &a.seed, 0, 9007199254740992.0, "S", "base seed"),
        PC_OPT_CALLBACK(0, "shard", opt_shard, &a, "i/n", "i/n with 1 <= i <= n",
                        "evaluate only pairs with index % n == i-1 (join shards with eval-merge)"),
        PC_OPT_STRING(0, "model", &a.model, "FILE", "checkpoint for learned methods (dust3r-pair: DUSt3R .pth / .safetensors)"),
        PC_OPT_INT(0, "size", &a.size, 32, 4096, "N", "DUSt3R preprocessing size"),
        PC_OPT_FLAG(0, "known-intrinsics", &a.known_K,
                    "dust3r-pair, posecrafter*: fix each pair's ground-truth K (mapped to DUSt3R's\n"
                    "input) in the alignment; results are recorded as method '<name>+K'"),
        PC_OPT_CHOICE(0, "backbone", &a.mast3r, bb_names, NULL, "B",
                      "posecrafter*: the model of the reconstructions (recorded as '<name>+<B>';\n"
                      "mast3r*: needs MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth)"),
        PC_OPT_STRING(0, "models", &a.models_dir, "DIR", "published checkpoints for posecrafter* (default: $POSECRAFTER_MODELS)"),
        PC_OPT_STRING(0, "work", &a.work, "DIR", "per-pair evidence + stage cache for posecrafter* (default: <results>.work)"),
        PC_OPT_INT(0, "threads", &a.threads, 0, 1024, "N", "worker threads (0: all cores)"),
        PC_OPT_INT(0, "max-new", &a.max_new, -1, 1000000000, "N", "stop after N new results (-1: no limit; for tests and time-boxed jobs)"),
        PC_OPT_END(),
    };
    char epilog[2048];
    {
        size_t k = (size_t)snprintf(epilog, sizeof(epilog), "\nmethods:\n");
        for (size_t m = 0; m < PC_ARRAY_LEN(methods) && k < sizeof(epilog); m++)
            k += (size_t)snprintf(epilog + k, sizeof(epilog) - k, "  %-12s %s\n", methods[m].name, methods[m].about);
    }
    const pc_opts_cmd cmd = {"eval",
                             "usage: posecrafter eval --pairs LIST --method NAME [options]\n"
                             "  Evaluates a relative-pose method on a pair list and prints the paper's table.\n\n",
                             NULL, 0, NULL, epilog};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    if (!a.pairs_path || !a.method) {
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    method_fn fn = NULL;
    for (size_t k = 0; k < PC_ARRAY_LEN(methods); k++)
        if (!strcmp(methods[k].name, a.method)) fn = methods[k].fn;
    if (!fn) {
        fprintf(stderr, "posecrafter eval: unknown method '%s'; available:\n", a.method);
        list_methods(stderr);
        return 2;
    }
    if (a.known_K && !strcmp(a.method, "classical")) {
        fprintf(stderr, "posecrafter eval: classical always uses the ground-truth K; --known-intrinsics is for the "
                        "DUSt3R-based methods\n");
        return 2;
    }
    // the results' method name says whether K was given, so runs with and without never mix on resume
    if (a.mast3r && strncmp(a.method, "posecrafter", 11)) {
        fprintf(stderr, "posecrafter eval: --backbone is for the posecrafter methods (for a pair: mast3r-pair)\n");
        return 2;
    }
    char label[96];
    snprintf(label, sizeof(label), "%s%s%s", a.method, a.mast3r == 2 ? "+mast3r-sparse" : a.mast3r ? "+mast3r" : "",
             a.known_K ? "+K" : "");
    a.method = label;
    char results_default[256];
    if (!a.results) {
        if (a.shard_n > 1)
            snprintf(results_default, sizeof(results_default), "results_%s_shard%dof%d.jsonl", a.method, a.shard_i, a.shard_n);
        else
            snprintf(results_default, sizeof(results_default), "results_%s.jsonl", a.method);
        a.results = results_default;
    }

    pc_error err;
    pc_eval_pair *pairs;
    size_t n_pairs;
    if (pc_eval_pairs_load(&pairs, &n_pairs, a.pairs_path, a.root, &err) != PC_OK) {
        fprintf(stderr, "posecrafter eval: %s\n", err.msg);
        return 1;
    }
    pc_eval_result *done;
    size_t n_done, n_corrupt;
    if (pc_eval_results_read(&done, &n_done, &n_corrupt, a.results, stderr, &err) != PC_OK) {
        fprintf(stderr, "posecrafter eval: %s\n", err.msg);
        pc_eval_pairs_free(pairs);
        return 1;
    }
    if (n_corrupt) fprintf(stderr, "posecrafter eval: %zu corrupt line(s) in %s; those pairs run again\n", n_corrupt, a.results);
    pc_pool *pool = NULL;
    if (pc_pool_create(&pool, a.threads, &err) != PC_OK) {
        fprintf(stderr, "posecrafter eval: %s\n", err.msg);
        return 1;
    }

    char work_buf[4200];
    if (!a.work) {
        snprintf(work_buf, sizeof(work_buf), "%s.work", a.results);
        a.work = work_buf;
    }
    method_ctx mctx;
    memset(&mctx, 0, sizeof(mctx));
    mctx.model_path = a.model;
    mctx.size = a.size;
    mctx.models_dir = a.models_dir ? a.models_dir : getenv("POSECRAFTER_MODELS");
    mctx.work = a.work;
    mctx.quiet = a.quiet;
    mctx.known_K = a.known_K;
    mctx.mast3r = a.mast3r;
    size_t todo = 0;
    for (size_t p = 0; p < n_pairs; p++)
        if (pc_eval_in_shard(p, a.shard_i, a.shard_n))
            for (int run = 0; run < a.runs; run++) todo += !result_done(done, n_done, pairs[p].id, a.method, run);
    if (!a.quiet && n_done)
        fprintf(stderr, "resuming %s: %zu result(s) already there, %zu to go\n", a.results, n_done, todo);
    int rc = 0, n_new = 0;
    size_t finished = 0;
    double t_start = pc_time_sec();
    for (size_t p = 0; p < n_pairs && rc == 0; p++) {
        if (!pc_eval_in_shard(p, a.shard_i, a.shard_n)) continue;
        const pc_eval_pair *pr = &pairs[p];
        for (int run = 0; run < a.runs && rc == 0; run++) {
            if (result_done(done, n_done, pr->id, a.method, run)) continue;
            if (a.max_new >= 0 && n_new >= a.max_new) goto stop;
            pc_eval_result r;
            memset(&r, 0, sizeof(r));
            snprintf(r.id, sizeof(r.id), "%s", pr->id);
            snprintf(r.dataset, sizeof(r.dataset), "%s", pr->dataset);
            snprintf(r.method, sizeof(r.method), "%s", a.method);
            r.run = run;
            r.seed = a.seed + (unsigned long long)run;
            r.yaw = pc_eval_yaw_deg(pr->R);
            static const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
            r.rot = pc_eval_rot_error_deg(I, pr->R);
            pc_relpose pose;
            double t0 = pc_time_sec();
            pc_error merr;
            pc_status st = fn(&pose, &mctx, pool, pr, r.seed, &merr);
            r.seconds = pc_time_sec() - t0;
            if (st == PC_OK) {
                r.ok = 1;
                memcpy(r.R, pose.R, sizeof(r.R));
                memcpy(r.t, pose.t, sizeof(r.t));
                r.err_R = pc_eval_rot_error_deg(pose.R, pr->R);
                r.err_t = pc_eval_trans_error_deg(pose.t, pr->t, 0);
            } else if (st == PC_ERR_NUMERIC) {  // the estimator ran but found no pose: a result, not a crash
                snprintf(r.error, sizeof(r.error), "%.255s", merr.msg);
            } else {
                fprintf(stderr, "\nposecrafter eval: pair %zu (%s): %s\n", p + 1, pr->id, merr.msg);
                rc = 1;
                break;
            }
            if (pc_eval_result_append(a.results, &r, &err) != PC_OK) {
                fprintf(stderr, "\nposecrafter eval: %s\n", err.msg);
                rc = 1;
                break;
            }
            n_new++;
            finished++;
            if (!a.quiet) {
                double el = pc_time_sec() - t_start;
                double eta = el / finished * (double)(todo - finished);
                fprintf(stderr, "\r[%zu/%zu] %.1f s elapsed, ETA %.0f s   ", finished, todo, el, eta);
            }
        }
    }
stop:
    if (!a.quiet && finished) fprintf(stderr, "\n");
    pc_dust3r_free(mctx.net);
    pc_pool_free(pool);
    free(done);
    if (rc == 0) {
        pc_eval_result *all;
        size_t n_all;
        if (pc_eval_results_read(&all, &n_all, &n_corrupt, a.results, stderr, &err) != PC_OK) {
            fprintf(stderr, "posecrafter eval: %s\n", err.msg);
            rc = 1;
        } else {
            result_set rs = {all, n_all};
            if (a.max_new >= 0 && n_new >= a.max_new && finished < todo)
                fprintf(stderr, "stopped after %d new result(s) (--max-new); run again to resume\n", n_new);
            rc = write_tables(&rs, &a);
            free(all);
        }
    }
    pc_eval_pairs_free(pairs);
    return rc;
}

// ---- eval-merge ---------------------------------------------------------------------

int pc_cmd_eval_merge(int argc, char **argv) {
    eval_args a;
    default_args(&a);
    const char *inputs[MAX_INPUTS];
    int n_in = 0, allow_corrupt = 0;
    const pc_opt opts[] = {
        EVAL_COMMON_OPTS(a),
        PC_OPT_FLAG(0, "allow-corrupt", &allow_corrupt, "report corrupt lines and conflicting duplicates, go on"),
        PC_OPT_END(),
    };
    const pc_opts_cmd cmd = {
        "eval-merge",
        "usage: posecrafter eval-merge RESULTS.jsonl... [--pairs LIST] [--runs N] [--bins LIST] [--md F] [--csv F]\n"
        "                              [--plot F.png] [--allow-corrupt]\n"
        "  Joins result files (e.g. shards), checks for duplicate and (with --pairs) missing pairs, prints the table.\n"
        "  Corrupt lines and conflicting duplicates are errors unless --allow-corrupt.\n\n",
        inputs, MAX_INPUTS, &n_in, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    if (!n_in) {
        pc_opts_help(stderr, opts, &cmd);
        return 2;
    }
    pc_error err;
    pc_eval_result *all = NULL;
    size_t n_all = 0, corrupt_total = 0;
    int rc = 0;
    for (int k = 0; k < n_in && rc == 0; k++) {
        pc_eval_result *rs;
        size_t n, nc;
        FILE *probe = fopen(inputs[k], "r");
        if (!probe) {
            fprintf(stderr, "posecrafter eval-merge: cannot open %s\n", inputs[k]);
            rc = 1;
            break;
        }
        fclose(probe);
        if (pc_eval_results_read(&rs, &n, &nc, inputs[k], stderr, &err) != PC_OK) {
            fprintf(stderr, "posecrafter eval-merge: %s\n", err.msg);
            rc = 1;
            break;
        }
        corrupt_total += nc;
        pc_eval_result *grown = (pc_eval_result *)realloc(all, (n_all + n + 1) * sizeof(*all));
        if (!grown) {
            free(rs);
            rc = 1;
            break;
        }
        all = grown;
        // duplicates: same (id, method, run) twice
        for (size_t i = 0; i < n; i++) {
            int dup = -1;
            for (size_t j = 0; j < n_all; j++)
                if (all[j].run == rs[i].run && !strcmp(all[j].id, rs[i].id) && !strcmp(all[j].method, rs[i].method)) {
                    dup = (int)j;
                    break;
                }
            if (dup >= 0) {
                int same = all[dup].ok == rs[i].ok && all[dup].err_R == rs[i].err_R && all[dup].err_t == rs[i].err_t;
                fprintf(stderr, "posecrafter eval-merge: duplicate result for '%s' (%s, run %d) in %s%s\n", rs[i].id,
                        rs[i].method, rs[i].run, inputs[k], same ? " (identical, kept once)" : " (CONFLICTING values)");
                if (!same && !allow_corrupt) rc = 1;
                continue;
            }
            all[n_all++] = rs[i];
        }
        free(rs);
    }
    if (corrupt_total && !allow_corrupt) {
        fprintf(stderr, "posecrafter eval-merge: %zu corrupt line(s); fix or re-run those pairs (--allow-corrupt to ignore)\n",
                corrupt_total);
        rc = 1;
    }
    if (rc == 0 && a.pairs_path) {
        pc_eval_pair *pairs;
        size_t np;
        if (pc_eval_pairs_load(&pairs, &np, a.pairs_path, a.root, &err) != PC_OK) {
            fprintf(stderr, "posecrafter eval-merge: %s\n", err.msg);
            rc = 1;
        } else {
            size_t missing = 0;
            // every method present must cover every pair x run
            for (size_t m = 0; m < n_all; m++) {
                int first = 1;
                for (size_t j = 0; j < m; j++) first &= strcmp(all[j].method, all[m].method) != 0;
                if (!first) continue;
                for (size_t p = 0; p < np; p++)
                    for (int run = 0; run < a.runs; run++)
                        if (!result_done(all, n_all, pairs[p].id, all[m].method, run)) {
                            if (missing < 20)
                                fprintf(stderr, "posecrafter eval-merge: missing: %s pair %zu '%s' run %d\n", all[m].method,
                                        p + 1, pairs[p].id, run);
                            missing++;
                        }
            }
            if (missing) {
                fprintf(stderr, "posecrafter eval-merge: %zu result(s) missing\n", missing);
                rc = 1;
            }
            pc_eval_pairs_free(pairs);
        }
    }
    if (rc == 0) {
        result_set rs = {all, n_all};
        rc = write_tables(&rs, &a);
    }
    free(all);
    return rc;
}

// ---- eval-convert -------------------------------------------------------------------

static int opt_yaw(void *ctx, const char *v) {
    double *y = (double *)ctx, lo, hi;
    char extra;
    if (sscanf(v, "%lf:%lf%c", &lo, &hi, &extra) != 2 || !(lo < hi)) return 0;
    y[0] = lo, y[1] = hi;
    return 1;
}

int pc_cmd_eval_convert(int argc, char **argv) {
    const char *format = NULL, *root = NULL, *out = NULL;
    double lo = 50, hi = 90;
    int max_pairs = 0, stride = 1;
    unsigned long long seed = 0;
    double yaw[2] = {lo, hi};
    const pc_opt opts[] = {
        PC_OPT_STRING('o', NULL, &out, "PAIRS.jsonl", "the manifest to write"),
        PC_OPT_CALLBACK(0, "yaw", opt_yaw, yaw, "LO:HI", "LO:HI with LO < HI",
                        "ground-truth relative yaw range of the pairs (default 50:90)"),
        PC_OPT_INT(0, "max-pairs", &max_pairs, 0, 1000000000, "N", "a seeded random subset of N pairs per scene (0: all)"),
        PC_OPT_U64(0, "seed", &seed, 0, 9007199254740992.0, "S", "seed of that subset"),
        PC_OPT_INT(0, "stride", &stride, 1, 1000000, "K", "scannet: use every K-th frame"),
        PC_OPT_END(),
    };
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    const pc_opts_cmd cmd = {
        "eval-convert",
        "usage: posecrafter eval-convert FORMAT ROOT -o PAIRS.jsonl [--yaw LO:HI] [--max-pairs N] [--seed S]\n"
        "                                [--stride K]\n"
        "  FORMAT: cambridge | scannet | dl3dv | navi, each read as its publisher lays it out (docs/EVAL.md).\n"
        "  Writes every pair within a scene whose ground-truth relative yaw is in [LO, HI],\n"
        "  or a seeded random subset of N per scene. Image paths are relative to ROOT (use eval --root ROOT).\n\n",
        pos, 2, &npos, NULL};
    const int prc = pc_opts_parse(argc, argv, opts, &cmd);
    if (prc >= 0) return prc;
    format = pos[0], root = pos[1];
    lo = yaw[0], hi = yaw[1];
    if (!format || !root || !out) {
        fprintf(stderr, "usage: posecrafter eval-convert FORMAT ROOT -o PAIRS.jsonl (see --help)\n");
        return 2;
    }
    pc_error err;
    size_t n;
    if (pc_eval_convert(format, root, out, lo, hi, max_pairs, seed, stride, &n, &err) != PC_OK) {
        fprintf(stderr, "posecrafter eval-convert: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "wrote %zu pairs to %s (evaluate with: posecrafter eval --pairs %s --root %s ...)\n", n, out, out, root);
    return 0;
}
