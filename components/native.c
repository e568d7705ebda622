/* Fused CPU kernels for the hot blocks: one call per block per step instead of ~10 torch ops.
 * Each does the same float operations in the same order as the block's torch code, so both
 * paths give identical spikes (compiled with -ffp-contract=off: no fused multiply-add).
 * T is float or double; parameters are per batch row (arrays of length B). The argument
 * structs are filled once per build (components/native.py) so a call passes three values. */
#include <stdint.h>

typedef struct {
    int64_t B, n;
    void *v, *countdown, *R, *E_L, *decay, *v_th, *v_reset, *ref_steps, *spikes;
} lif_args;

typedef struct {
    int64_t B, n_pre, n_post, w_rows, n_syn, slots;
    void *ptr, *post, *w, *decay, *buf0, *buf1, *delay, *ring;
} propagate_args;

#define DEFINE_KERNELS(T, SUFFIX)                                                              \
/* v update for a current held over the step, threshold, reset, refractory countdown. Written \
 * branch-free so the compiler vectorizes it; returns nothing (spikes are in a->spikes). */    \
void lif_step_##SUFFIX(const lif_args *a, const T *current) {                                  \
    T *v = a->v, *spikes = a->spikes;                                                          \
    int32_t *countdown = a->countdown;                                                         \
    const int32_t *ref_steps = a->ref_steps;                                                   \
    const T *R = a->R, *E_L = a->E_L, *decay = a->decay, *v_th = a->v_th, *v_reset = a->v_reset; \
    const int64_t n = a->n;                                                                    \
    for (int64_t b = 0; b < a->B; b++) {                                                       \
        const T r = R[b], el = E_L[b], d = decay[b], th = v_th[b], vr = v_reset[b];            \
        const int32_t ref = ref_steps[b];                                                      \
        T *vb = v + b * n, *sb = spikes + b * n;                                               \
        int32_t *cb = countdown + b * n;                                                       \
        const T *ib = current ? current + b * n : 0;                                           \
        for (int64_t i = 0; i < n; i++) {                                                      \
            int32_t c = cb[i] - 1;                                                             \
            c = c < 0 ? 0 : c;                                                                 \
            const T drive = ib ? r * ib[i] : (T)0;                                             \
            const T x = vb[i];                                                                 \
            const T free_ = el + ((drive + d * x) + d * (-el - drive));                        \
            const T y = c == 0 ? free_ : x;                                                    \
            const int fire = (c == 0) & (y >= th);                                             \
            vb[i] = fire ? vr : y;                                                             \
            cb[i] = fire ? ref : c;                                                            \
            sb[i] = fire ? (T)1 : (T)0;                                                        \
        }                                                                                      \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* Step t writes buffer t % 2 = (the other buffer) * decay + the weights of the outgoing     \
 * synapses of every spike, in order of batch row, neuron, synapse (via the delay ring when   \
 * there are delays). The other buffer is the current published by the previous step. */     \
void propagate_##SUFFIX(const propagate_args *a, const T *spikes, int64_t t) {                 \
    const int64_t B = a->B, n_pre = a->n_pre, n_post = a->n_post, slots = a->slots;            \
    const int64_t *ptr = a->ptr, *post = a->post, *delay = a->delay;                           \
    const T *decay = a->decay;                                                                 \
    T *out = (t % 2) ? a->buf1 : a->buf0;                                                      \
    const T *previous = (t % 2) ? a->buf0 : a->buf1;                                           \
    T *ring = a->ring;                                                                         \
    for (int64_t b = 0; b < B; b++)                                                            \
        for (int64_t j = b * n_post; j < (b + 1) * n_post; j++) out[j] = previous[j] * decay[b]; \
    for (int64_t b = 0; b < B; b++) {                                                          \
        const T *wb = (const T *)a->w + (a->w_rows > 1 ? b * a->n_syn : 0);                    \
        for (int64_t i = 0; i < n_pre; i++) {                                                  \
            if (spikes[b * n_pre + i] == 0) continue;                                          \
            for (int64_t s = ptr[i]; s < ptr[i + 1]; s++) {                                    \
                if (delay) ring[(((t + delay[s]) % slots) * B + b) * n_post + post[s]] += wb[s]; \
                else out[b * n_post + post[s]] += wb[s];                                       \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    if (delay) {                                                                               \
        T *now = ring + (t % slots) * B * n_post;                                              \
        for (int64_t j = 0; j < B * n_post; j++) { out[j] += now[j]; now[j] = 0; }             \
    }                                                                                          \
}

DEFINE_KERNELS(float, f32)
DEFINE_KERNELS(double, f64)
