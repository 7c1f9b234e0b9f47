// Cumulative error curves of `posecrafter eval` as a PNG: no plotting library,
// just lines, axes and a 5x7 bitmap font on an RGB canvas.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "posecrafter/eval.h"
#include "posecrafter/image.h"

// 5x7 glyphs, one byte per row, bit 4 = leftmost column (HD44780-style shapes).
typedef struct {
    char ch;
    uint8_t rows[7];
} glyph;

static const glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'a', {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}}, {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}},
    {'c', {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}}, {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
    {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}}, {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}}, {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}}, {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}}, {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}}, {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}}, {'p', {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}}, {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}}, {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}}, {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}}, {'x', {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}}, {'z', {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}}, {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}}, {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}}, {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'@', {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E}}, {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}}, {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
};

typedef struct {
    uint8_t *px;  // (h, w, 3)
    int w, h;
} canvas;

static void put(canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, rgb);
}

// Thick line (Bresenham with a square brush of radius r).
static void line(canvas *c, int x0, int y0, int x1, int y1, int r, const uint8_t rgb[3]) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        rect(c, x0 - r, y0 - r, x0 + r, y0 + r, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

// Text at (x, y) top-left, glyphs scaled by s; unknown characters are blank
// (upper case is drawn as lower case).
static void text(canvas *c, int x, int y, int s, const char *str, const uint8_t rgb[3]) {
    for (; *str; str++, x += 6 * s) {
        char ch = *str;
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        const glyph *g = NULL;
        for (size_t k = 0; k < PC_ARRAY_LEN(font); k++)
            if (font[k].ch == ch) g = &font[k];
        if (!g) continue;
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (g->rows[r] & (0x10 >> col)) rect(c, x + col * s, y + r * s, x + col * s + s - 1, y + r * s + s - 1, rgb);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

pc_status pc_eval_plot_png(const char *path, const pc_eval_result *r, size_t n, pc_error *err) {
    static const uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
    static const uint8_t palette[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                          {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
    const int PW = 460, PH = 380, ML = 70, MB = 60, MT = 40, MR = 20;  // panel size and margins
    const double XMAX = 30.0;
    canvas c = {NULL, 2 * PW, PH};
    c.px = (uint8_t *)malloc((size_t)c.w * c.h * 3);
    double *errs = (double *)malloc((n + 1) * sizeof(double));
    if (!c.px || !errs) {
        free(c.px);
        free(errs);
        return pc_err(err, PC_ERR_MEMORY, "out of memory drawing %s", path);
    }
    memset(c.px, 255, (size_t)c.w * c.h * 3);
    const char *methods[8];
    int nm = 0;
    for (size_t i = 0; i < n && nm < 8; i++) {
        int seen = 0;
        for (int k = 0; k < nm; k++) seen |= !strcmp(methods[k], r[i].method);
        if (!seen) methods[nm++] = r[i].method;
    }
    for (int panel = 0; panel < 2; panel++) {
        int ox = panel * PW, x0 = ox + ML, x1 = ox + PW - MR, y0 = PH - MB, y1 = MT;  // plot box (y up)
        for (int k = 0; k <= 6; k++) {  // x grid every 5 degrees
            int x = x0 + (x1 - x0) * k / 6;
            line(&c, x, y0, x, y1, 0, grid);
            char lab[8];
            snprintf(lab, sizeof(lab), "%d", 5 * k);
            text(&c, x - (int)strlen(lab) * 6, y0 + 8, 2, lab, black);
        }
        for (int k = 0; k <= 5; k++) {  // y grid every 0.2
            int y = y0 - (y0 - y1) * k / 5;
            line(&c, x0, y, x1, y, 0, grid);
            char lab[8];
            snprintf(lab, sizeof(lab), "%.1f", 0.2 * k);
            text(&c, x0 - 44, y - 7, 2, lab, black);
        }
        line(&c, x0, y0, x1, y0, 0, black);
        line(&c, x0, y0, x0, y1, 0, black);
        text(&c, x0 + 20, y0 + 32, 2, panel == 0 ? "rotation error (deg)" : "translation error (deg)", black);
        text(&c, x0 + 4, 10, 2, "recall", black);
        for (int m = 0; m < nm; m++) {
            size_t cnt = 0;
            for (size_t i = 0; i < n; i++) {
                if (strcmp(r[i].method, methods[m])) continue;
                errs[cnt++] = !r[i].ok ? INFINITY : panel == 0 ? r[i].err_R : r[i].err_t;
            }
            qsort(errs, cnt, sizeof(double), cmp_double);
            // step curve: recall(e) = #(err <= e) / cnt
            int px = x0, py = y0;
            size_t below = 0;
            for (int x = x0; x <= x1 && cnt; x++) {
                double e = XMAX * (x - x0) / (double)(x1 - x0);
                while (below < cnt && errs[below] <= e) below++;
                int y = y0 - (int)lround((double)(y0 - y1) * (double)below / (double)cnt);
                line(&c, px, py, x, y, 1, palette[m]);
                px = x, py = y;
            }
            if (panel == 1) {  // legend
                int ly = y1 + 10 + 22 * m;
                rect(&c, x0 + 12, ly + 4, x0 + 32, ly + 8, palette[m]);
                text(&c, x0 + 40, ly, 2, methods[m], black);
            }
        }
    }
    pc_image img = {c.w, c.h, 3, c.px};
    pc_status st = pc_image_save_png(&img, path, err);
    free(c.px);
    free(errs);
    return st;
}
