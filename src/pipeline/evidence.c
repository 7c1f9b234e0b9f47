// Evidence files of a pipeline run (evidence.h): folders, paths, JSON documents, frame sets, the contact sheet.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "pipeline/evidence.h"

// mkdir -p
pc_status pc_pipe_mkdir(const char *path, pc_error *err) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return PC_OK;
        return pc_err(err, PC_ERR_IO, "%s exists and is not a folder", path);
    }
    char *parent = strdup(path);
    if (!parent) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    char *sl = strrchr(parent, '/');
    while (sl && sl > parent && sl[1] == 0) {  // trailing slashes
        *sl = 0;
        sl = strrchr(parent, '/');
    }
    if (sl && sl > parent) {
        *sl = 0;
        pc_status st = pc_pipe_mkdir(parent, err);
        if (st != PC_OK) {
            free(parent);
            return st;
        }
    }
    free(parent);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return pc_err(err, PC_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
    return PC_OK;
}

char *pc_path_join(const char *dir, const char *name) {
    const size_t a = strlen(dir), b = strlen(name);
    char *p = (char *)malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

pc_status pc_evidence_json(const char *path, const cJSON *doc, pc_error *err) {
    char *txt = cJSON_Print(doc);
    if (!txt) return pc_err(err, PC_ERR_MEMORY, "out of memory");
    pc_status s = PC_OK;
    if (!path) {
        printf("%s\n", txt);
        free(txt);
        return PC_OK;
    }
    // written beside the target and renamed: a reader never sees half a document
    const size_t n = strlen(path);
    char *tmp = (char *)malloc(n + 5);
    if (!tmp) {
        free(txt);
        return pc_err(err, PC_ERR_MEMORY, "out of memory");
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        s = pc_err(err, PC_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    } else {
        const int ok = fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
        if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
            remove(tmp);
            s = pc_err(err, PC_ERR_IO, "cannot write %s", path);
        }
    }
    free(tmp);
    free(txt);
    return s;
}

// dir/<prefix>_XX.png (malloc)
static char *frame_path(const char *dir, const char *prefix, int t) {
    const size_t n = strlen(dir) + strlen(prefix) + 32;
    char *p = (char *)malloc(n);
    if (p) snprintf(p, n, "%s/%s_%02d.png", dir, prefix, t);
    return p;
}

pc_status pc_frames_save(const pc_image *frames, int n, const char *dir, const char *prefix, pc_error *err) {
    pc_status st = pc_pipe_mkdir(dir, err);
    for (int t = 0; t < n && st == PC_OK; t++) {
        char *path = frame_path(dir, prefix, t);
        st = path ? pc_image_save_png(&frames[t], path, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        free(path);
    }
    return st;
}

pc_status pc_frames_load(pc_image *frames, int n, const char *dir, const char *prefix, int W, int H, pc_error *err) {
    pc_image tmp = {0};
    for (int t = 0; t < n; t++) {
        char *path = frame_path(dir, prefix, t);
        pc_status st = path ? pc_image_load(&tmp, path, err) : pc_err(err, PC_ERR_MEMORY, "out of memory");
        if (st == PC_OK && (tmp.w != W || tmp.h != H))
            st = pc_err(err, PC_ERR_FORMAT, "%s is %dx%d, expected %dx%d", path, tmp.w, tmp.h, W, H);
        if (st == PC_OK) st = pc_image_to_rgb(&frames[t], &tmp, err);
        pc_image_free(&tmp);
        free(path);
        if (st != PC_OK) {
            for (int u = 0; u <= t; u++) pc_image_free(&frames[u]);
            return st;
        }
    }
    return PC_OK;
}

// Paste img, scaled to fit a tw x th tile (aspect kept, centred), at (x0, y0) of sheet.
static pc_status paste_fit(pc_image *sheet, const pc_image *img, int x0, int y0, int tw, int th, pc_error *err) {
    pc_image rgb = {0}, small = {0};
    int w = tw, h = (int)((double)img->h * tw / img->w + 0.5);
    if (h > th) h = th, w = (int)((double)img->w * th / img->h + 0.5);
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    pc_status st = pc_image_to_rgb(&rgb, img, err);
    if (st == PC_OK) st = pc_image_resize(&small, &rgb, w, h, PC_RESAMPLE_BILINEAR, err);
    if (st == PC_OK) {
        const int ox = x0 + (tw - w) / 2, oy = y0 + (th - h) / 2;
        for (int y = 0; y < h; y++)
            memcpy(sheet->data + ((size_t)(oy + y) * sheet->w + ox) * 3, small.data + (size_t)y * w * 3, (size_t)w * 3);
    }
    pc_image_free(&rgb);
    pc_image_free(&small);
    return st;
}

static void frame_rect(pc_image *s, int x0, int y0, int w, int h, int thick, const uint8_t c[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            if (x >= x0 + thick && x < x0 + w - thick && y >= y0 + thick && y < y0 + h - thick) continue;
            if (x < 0 || y < 0 || x >= s->w || y >= s->h) continue;
            memcpy(s->data + ((size_t)y * s->w + x) * 3, c, 3);
        }
}

// A 3x5 bitmap digit font (rows top to bottom, 3 bits each, MSB = left) for frame numbers on the sheet.
static const uint8_t digits3x5[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                         {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                         {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

// Number n at (x0, y0), each font pixel a sc x sc square, white on a black box.
static void draw_number(pc_image *s, int x0, int y0, int n, int sc) {
    char txt[16];
    const int len = snprintf(txt, sizeof(txt), "%d", n < 0 ? 0 : n);
    const int bw = (len * 4 + 1) * sc, bh = 7 * sc;
    for (int y = y0; y < y0 + bh && y < s->h; y++)
        for (int x = x0; x < x0 + bw && x < s->w; x++) memset(s->data + ((size_t)y * s->w + x) * 3, 0, 3);
    for (int c = 0; c < len; c++) {
        const uint8_t *g = digits3x5[txt[c] - '0'];
        for (int r = 0; r < 5; r++)
            for (int b = 0; b < 3; b++) {
                if (!(g[r] >> (2 - b) & 1)) continue;
                for (int dy = 0; dy < sc; dy++)
                    for (int dx = 0; dx < sc; dx++) {
                        const int x = x0 + (1 + c * 4 + b) * sc + dx, y = y0 + (1 + r) * sc + dy;
                        if (x < s->w && y < s->h) memset(s->data + ((size_t)y * s->w + x) * 3, 255, 3);
                    }
            }
    }
}

pc_status pc_contact_sheet(const char *path, const pc_image *a, const pc_image *b, const pc_image *frames, int n,
                           const uint8_t *selected, pc_error *err) {
    const int cols = 6, tw = 192, pad = 6;
    const double aspect = n > 0 ? (double)frames[0].h / frames[0].w : (double)a->h / a->w;
    int th = (int)(tw * aspect + 0.5);
    if (th < 16) th = 16;
    if (th > 4 * tw) th = 4 * tw;
    const int rows = 1 + (n + cols - 1) / cols;
    pc_image s = {0};
    pc_status st = pc_image_alloc(&s, cols * (tw + pad) + pad, rows * (th + pad) + pad, 3, err);
    if (st != PC_OK) return st;
    memset(s.data, 40, (size_t)s.w * s.h * 3);  // dark grey background
    static const uint8_t green[3] = {40, 220, 60}, blue[3] = {70, 130, 255};
    // first row: the inputs, framed in blue
    st = paste_fit(&s, a, pad, pad, tw, th, err);
    if (st == PC_OK) st = paste_fit(&s, b, pad + (tw + pad), pad, tw, th, err);
    frame_rect(&s, pad - 3, pad - 3, tw + 6, th + 6, 3, blue);
    frame_rect(&s, pad + (tw + pad) - 3, pad - 3, tw + 6, th + 6, 3, blue);
    for (int t = 0; t < n && st == PC_OK; t++) {
        const int x0 = pad + (t % cols) * (tw + pad), y0 = pad + (1 + t / cols) * (th + pad);
        st = paste_fit(&s, &frames[t], x0, y0, tw, th, err);
        if (selected && selected[t]) frame_rect(&s, x0 - 3, y0 - 3, tw + 6, th + 6, 4, green);
        draw_number(&s, x0 + 2, y0 + 2, t, 2);  // the frame index used in selection.tsv
    }
    if (st == PC_OK) st = pc_image_save_png(&s, path, err);
    pc_image_free(&s);
    return st;
}
