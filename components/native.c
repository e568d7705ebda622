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

typedef struct {
    int64_t B, n_pre, n_post, n_syn;
    void *x, *y, *decay_plus, *decay_minus, *A_plus, *A_minus, *w_min, *w_max;
    void *ptr, *post, *pre, *by_post, *post_ptr, *w;
} stdp_args;

/* One block of a fused program (simulations/fused.py): a LIF population summing the currents
 * published by its source projections, or a projection reading a population's spikes. */
enum { OP_LIF = 1, OP_PROPAGATE = 2, OP_MODEL = 3 };
#define MAX_SOURCES 8
typedef struct {
    int64_t kind, n_sources, record;       /* record: recorder id, or -1 */
    void *args;                            /* lif_args, propagate_args or model_args */
    void *sources[MAX_SOURCES];            /* LIF: propagate_args of its current inputs */
    void *spikes;                          /* projection: the spikes it reads */
    void *scratch;                         /* LIF with several inputs: their sum; model: zeros */
    void *fn;                              /* model: its generated step (components/equation_codegen.py) */
    void *inputs[3];                       /* model: propagate_args feeding current, exc, inh (or NULL) */
} program_op;

/* Arguments of a generated model step; must match components/equation_codegen.py. */
typedef struct {
    int64_t B, n, rows, t;
    void **state;
    void *params, *P, *P_held, *ref_steps, *countdown, *spikes, *current, *exc, *inh;
} model_args;
typedef void (*model_fn)(const model_args *);

/* The current a projection published at the end of the previous step (see propagate). */
static void *published(const propagate_args *a, int64_t t) { return ((t + 1) % 2) ? a->buf1 : a->buf0; }

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
        const T *sb = spikes + b * n_pre;                                                      \
        for (int64_t i0 = 0; i0 < n_pre; i0 += 16) { /* spikes are rare: skip 16 zeros at once */ \
            const int64_t end = i0 + 16 < n_pre ? i0 + 16 : n_pre;                             \
            T any = 0;                                                                         \
            for (int64_t i = i0; i < end; i++) any += sb[i];                                   \
            if (any == 0) continue;                                                            \
            for (int64_t i = i0; i < end; i++) {                                               \
                if (sb[i] == 0) continue;                                                      \
                for (int64_t s = ptr[i]; s < ptr[i + 1]; s++) {                                \
                    if (delay) ring[(((t + delay[s]) % slots) * B + b) * n_post + post[s]] += wb[s]; \
                    else out[b * n_post + post[s]] += wb[s];                                   \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    if (delay) {                                                                               \
        T *now = ring + (t % slots) * B * n_post;                                              \
        for (int64_t j = 0; j < B * n_post; j++) { out[j] += now[j]; now[j] = 0; }             \
    }                                                                                          \
}

/* Pair STDP with traces (components/stdp.py): decay the traces and add this step's spikes,
 * depress the outgoing synapses of pre spikes by A_minus * y_post, potentiate the incoming
 * synapses of post spikes by A_plus * x_pre, clipping to [w_min, w_max]; weights have one row
 * per batch row. `modulation` (or NULL) scales both rates, one value per batch row. */
#define DEFINE_STDP(T, SUFFIX)                                                                 \
void stdp_step_##SUFFIX(const stdp_args *a, const T *pre_spikes, const T *post_spikes,         \
                        const T *modulation, int64_t modulation_stride) {                      \
    const int64_t n_pre = a->n_pre, n_post = a->n_post;                                        \
    const int64_t *ptr = a->ptr, *post = a->post, *pre = a->pre, *by_post = a->by_post,        \
                  *post_ptr = a->post_ptr;                                                     \
    for (int64_t b = 0; b < a->B; b++) {                                                       \
        T *x = (T *)a->x + b * n_pre, *y = (T *)a->y + b * n_post, *w = (T *)a->w + b * a->n_syn; \
        const T *sp = pre_spikes + b * n_pre, *sq = post_spikes + b * n_post;                  \
        const T dp = ((const T *)a->decay_plus)[b], dm = ((const T *)a->decay_minus)[b];       \
        for (int64_t i = 0; i < n_pre; i++) x[i] = x[i] * dp + sp[i];                          \
        for (int64_t j = 0; j < n_post; j++) y[j] = y[j] * dm + sq[j];                         \
        const T scale = modulation ? modulation[b * modulation_stride] : (T)1;                 \
        const T depress = -(((const T *)a->A_minus)[b] * scale);                               \
        const T potentiate = ((const T *)a->A_plus)[b] * scale;                                \
        const T lo = ((const T *)a->w_min)[b], hi = ((const T *)a->w_max)[b];                  \
        for (int64_t i = 0; i < n_pre; i++) {                                                  \
            if (sp[i] == 0) continue;                                                          \
            for (int64_t s = ptr[i]; s < ptr[i + 1]; s++) {                                    \
                T v = w[s] + depress * y[post[s]];                                             \
                v = v < lo ? lo : v;                                                           \
                w[s] = v > hi ? hi : v;                                                        \
            }                                                                                  \
        }                                                                                      \
        for (int64_t j = 0; j < n_post; j++) {                                                 \
            if (sq[j] == 0) continue;                                                          \
            for (int64_t k = post_ptr[j]; k < post_ptr[j + 1]; k++) {                          \
                const int64_t s = by_post[k];                                                  \
                T v = w[s] + potentiate * x[pre[s]];                                           \
                v = v < lo ? lo : v;                                                           \
                w[s] = v > hi ? hi : v;                                                        \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
}

/* Run `steps` steps of a program from step t, appending (step, recorder, flat index) triples
 * for recorded spikes to `events`. Stops early, before a step that might not fit, and returns
 * the number of steps done; *n_events says how many triples were written. */
#define DEFINE_PROGRAM(T, SUFFIX)                                                              \
int64_t run_program_##SUFFIX(const program_op *ops, int64_t n_ops, int64_t t, int64_t steps,   \
                             int64_t *events, int64_t capacity, int64_t per_step_max,          \
                             int64_t *n_events) {                                              \
    int64_t k = 0, done = 0;                                                                   \
    for (; done < steps && k + 3 * per_step_max <= capacity; done++, t++) {                    \
        for (int64_t o = 0; o < n_ops; o++) {                                                  \
            const program_op *op = ops + o;                                                    \
            if (op->kind == OP_LIF) {                                                          \
                const lif_args *a = op->args;                                                  \
                const int64_t size = a->B * a->n;                                              \
                const T *current = 0;                                                          \
                if (op->n_sources == 1) current = published(op->sources[0], t);                \
                else if (op->n_sources > 1) {                                                  \
                    T *sum = op->scratch;                                                      \
                    const T *first = published(op->sources[0], t);                             \
                    for (int64_t i = 0; i < size; i++) sum[i] = first[i];                      \
                    for (int64_t s = 1; s < op->n_sources; s++) {                              \
                        const T *more = published(op->sources[s], t);                          \
                        for (int64_t i = 0; i < size; i++) sum[i] = sum[i] + more[i];          \
                    }                                                                          \
                    current = sum;                                                             \
                }                                                                              \
                lif_step_##SUFFIX(a, current);                                                 \
                record_##SUFFIX(op, a->spikes, size, t, events, &k);                           \
            } else if (op->kind == OP_MODEL) {                                                 \
                model_args *m = op->args;                                                      \
                m->current = op->inputs[0] ? published(op->inputs[0], t) : op->scratch; /* zeros */ \
                m->exc = op->inputs[1] ? published(op->inputs[1], t) : op->scratch;           \
                m->inh = op->inputs[2] ? published(op->inputs[2], t) : op->scratch;           \
                m->t = t;                                                                      \
                ((model_fn)op->fn)(m);                                                         \
                record_##SUFFIX(op, m->spikes, m->B * m->n, t, events, &k);                    \
            } else {                                                                           \
                propagate_##SUFFIX(op->args, op->spikes, t);                                   \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    *n_events = k / 3;                                                                         \
    return done;                                                                               \
}

/* Append (step, recorder, flat index) for each spike of a recorded op (spikes are 0 or 1:
 * skip 16 zeros at a time). */
#define DEFINE_RECORD(T, SUFFIX)                                                               \
static void record_##SUFFIX(const program_op *op, const T *spikes, int64_t size, int64_t t,   \
                            int64_t *events, int64_t *k_) {                                    \
                int64_t k = *k_;                                                               \
                if (op->record >= 0) {                                                         \
                    for (int64_t i0 = 0; i0 < size; i0 += 16) {                                \
                        const int64_t end = i0 + 16 < size ? i0 + 16 : size;                   \
                        T any = 0;                                                             \
                        for (int64_t i = i0; i < end; i++) any += spikes[i];                   \
                        if (any == 0) continue;                                                \
                        for (int64_t i = i0; i < end; i++)                                     \
                            if (spikes[i] != 0) {                                              \
                                events[k++] = t; events[k++] = op->record; events[k++] = i;    \
                            }                                                                  \
                    }                                                                          \
                }                                                                              \
                *k_ = k;                                                                       \
}

DEFINE_KERNELS(float, f32)
DEFINE_RECORD(float, f32)
DEFINE_PROGRAM(float, f32)
DEFINE_STDP(float, f32)
DEFINE_KERNELS(double, f64)
DEFINE_RECORD(double, f64)
DEFINE_PROGRAM(double, f64)
DEFINE_STDP(double, f64)
