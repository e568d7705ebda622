/* Fused CPU kernels for the hot blocks: one call per block per step instead of ~10 torch ops.
 * Each does the same float operations in the same order as the block's torch code, so both
 * paths give identical spikes (compiled with -ffp-contract=off: no fused multiply-add).
 * T is float or double; parameters are per batch row (arrays of length B). The argument
 * structs are filled once per build (components/native.py) so a call passes three values. */
#include <math.h>
#include <stdint.h>

typedef struct {
    int64_t B, n;
    void *v, *countdown, *R, *E_L, *decay, *v_th, *v_reset, *ref_steps, *spikes;
} lif_args;

typedef struct {
    int64_t B, n_pre, n_post, w_rows, n_syn, slots;
    void *ptr, *post, *w, *decay, *buf0, *buf1, *delay, *ring;
    int64_t jump;  /* decay is 0 (a 'jump' synapse): a buffer holds only the weights of one step */
    /* Tsodyks-Markram short-term plasticity (NULL stp_x: none): per (row, pre neuron) x, u and
     * the time of the last spike (< 0: none); U, tau_rec, tau_fac per row; the efficacy u x of
     * each of this step's spikes is kept in scale (per row and pre neuron) */
    void *stp_x, *stp_u, *stp_last, *U, *tau_rec, *tau_fac, *scale;
    double dt;
} propagate_args;

typedef struct {
    int64_t B, n_pre, n_post, n_syn;
    void *x, *y, *decay_plus, *decay_minus, *A_plus, *A_minus, *w_min, *w_max;
    void *ptr, *post, *pre, *by_post, *post_ptr, *w;
} stdp_args;


/* One block of a fused program (simulations/fused.py): a LIF population summing the currents
 * published by its source projections, an equation-defined population (generated code), or a
 * projection delivering the spikes of the op that produced them. */
enum { OP_LIF = 1, OP_PROPAGATE = 2, OP_MODEL = 3 };
#define MAX_SOURCES 8
#define MAX_THREADS 64
typedef struct program_op program_op;
struct program_op {
    int64_t kind, n_sources, record;       /* record: recorder id, or -1 */
    void *args;                            /* lif_args, propagate_args or model_args */
    void *sources[MAX_SOURCES];            /* LIF: propagate_args of its current inputs */
    void *scratch;                         /* LIF with several inputs: their sum; model: zeros */
    void *fn;                              /* model: its generated range step (components/equation_codegen.py) */
    void *inputs[3];                       /* model: propagate_args feeding current, exc, inh (or NULL) */
    /* spiking op: flat indices of its spikes, one segment per thread, in three slots used in
     * turn (a projection clears what it delivered two steps ago); `slot` is the newest */
    int64_t *fired;
    int64_t n_fired[3 * MAX_THREADS];
    int64_t slot;
    program_op *source;                    /* projection: the op whose spikes it delivers */
    int64_t delivered[2 * MAX_THREADS];    /* projection: the slot each thread delivered at even, odd steps */
};

/* Arguments of a generated model step; must match components/equation_codegen.py. */
typedef struct {
    int64_t B, n, rows, t;
    void **state;
    void *params, *P, *P_held, *ref_steps, *countdown, *spikes, *current, *exc, *inh;
} model_args;
typedef void (*model_range_fn)(const model_args *, int64_t, int64_t);

/* The current a projection published at the end of the previous step (see propagate). */
static void *published(const propagate_args *a, int64_t t) { return ((t + 1) % 2) ? a->buf1 : a->buf0; }

/* Thread k's share [lo, hi) of 0..size-1: contiguous, 16-element aligned (whole SIMD vectors),
 * the same split for every op of the same size so segments line up. */
static void share(int64_t size, int64_t threads, int64_t k, int64_t *lo, int64_t *hi) {
    int64_t chunk = (size + threads - 1) / threads;
    chunk = (chunk + 15) & ~(int64_t)15;
    *lo = k * chunk < size ? k * chunk : size;
    *hi = (k + 1) * chunk < size ? (k + 1) * chunk : size;
}

/* First position in post[lo:hi) (ascending) holding a value >= x. */
static int64_t lower_bound(const int64_t *post, int64_t lo, int64_t hi, int64_t x) {
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (post[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

#define DEFINE_KERNELS(T, SUFFIX)                                                              \
/* The LIF update on one span of neurons with per-row constants: v for a current held over    \
 * the step (the sum of up to two inputs, in wiring order), threshold, reset, refractory      \
 * countdown. Branch-free, restrict pointers: the loop vectorizes. */                         \
static inline void lif_span_##SUFFIX(int64_t n, T *restrict v, int32_t *restrict cd,           \
        T *restrict sp, const T *restrict c0, const T *restrict c1, const T r, const T el,     \
        const T d, const T th, const T vr, const int32_t ref) {                                \
    _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                     \
        int32_t c = cd[i] - 1;                                                                 \
        c = c < 0 ? 0 : c;                                                                     \
        const T drive = c1 ? r * (c0[i] + c1[i]) : c0 ? r * c0[i] : (T)0;                      \
        const T x = v[i];                                                                      \
        const T free_ = el + ((drive + d * x) + d * (-el - drive));                            \
        const T y = c == 0 ? free_ : x;                                                        \
        const int fire = (c == 0) & (y >= th);                                                 \
        v[i] = fire ? vr : y;                                                                  \
        cd[i] = fire ? ref : c;                                                                \
        sp[i] = fire ? (T)1 : (T)0;                                                            \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* lif_span on the flat neurons [lo, hi) of a (B, n) population; the input pointers may be   \
 * NULL (no input) and are loop-invariant, so each case gets its own vectorized loop. */     \
static void lif_range_##SUFFIX(const lif_args *a, const T *c0, const T *c1, int64_t lo, int64_t hi) { \
    const T *R = a->R, *E_L = a->E_L, *decay = a->decay, *v_th = a->v_th, *v_reset = a->v_reset; \
    const int32_t *ref_steps = a->ref_steps;                                                   \
    T *v = a->v, *sp = a->spikes;                                                              \
    int32_t *cd = a->countdown;                                                                \
    for (int64_t b = lo / a->n; b < a->B && b * a->n < hi; b++) {                              \
        const int64_t s = lo > b * a->n ? lo : b * a->n;                                       \
        const int64_t e = hi < (b + 1) * a->n ? hi : (b + 1) * a->n;                           \
        if (s >= e) continue;                                                                  \
        const int64_t m = e - s;                                                               \
        if (c1) lif_span_##SUFFIX(m, v + s, cd + s, sp + s, c0 + s, c1 + s, R[b], E_L[b], decay[b], v_th[b], v_reset[b], ref_steps[b]); \
        else if (c0) lif_span_##SUFFIX(m, v + s, cd + s, sp + s, c0 + s, 0, R[b], E_L[b], decay[b], v_th[b], v_reset[b], ref_steps[b]); \
        else lif_span_##SUFFIX(m, v + s, cd + s, sp + s, 0, 0, R[b], E_L[b], decay[b], v_th[b], v_reset[b], ref_steps[b]); \
    }                                                                                          \
}                                                                                              \
                                                                                               \
void lif_step_##SUFFIX(const lif_args *a, const T *current) {                                  \
    lif_range_##SUFFIX(a, current, 0, 0, a->B * a->n);                                         \
}                                                                                              \
                                                                                               \
/* Flat indices of the spikes in [lo, hi) into out (ascending); returns how many. Spikes are  \
 * rare: 64 at a time are tested with one vectorized compare before any is looked at. */     \
static int64_t scan_##SUFFIX(const T *s, int64_t lo, int64_t hi, int64_t *out) {               \
    int64_t count = 0;                                                                         \
    for (int64_t i0 = lo; i0 < hi; i0 += 64) {                                                 \
        const int64_t end = i0 + 64 < hi ? i0 + 64 : hi;                                       \
        int any = 0;                                                                           \
        for (int64_t i = i0; i < end; i++) any |= s[i] != 0;                                   \
        if (!any) continue;                                                                    \
        for (int64_t i = i0; i < end; i++)                                                     \
            if (s[i] != 0) out[count++] = i;                                                   \
    }                                                                                          \
    return count;                                                                              \
}                                                                                              \
                                                                                               \
/* Start of step t for the targets [plo, phi) of every batch row: the buffer this step       \
 * writes (t % 2) gets the other one (the current published by the previous step) decayed. */ \
static void decay_range_##SUFFIX(const propagate_args *a, int64_t t, int64_t plo, int64_t phi) { \
    const T *decay = a->decay;                                                                 \
    T *out = (t % 2) ? a->buf1 : a->buf0;                                                      \
    const T *previous = (t % 2) ? a->buf0 : a->buf1;                                           \
    for (int64_t b = 0; b < a->B; b++) {                                                       \
        const T d = decay[b];                                                                  \
        T *restrict o = out + b * a->n_post;                                                   \
        const T *restrict p = previous + b * a->n_post;                                        \
        for (int64_t j = plo; j < phi; j++) o[j] = p[j] * d;                                   \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* Tsodyks-Markram release of the spike at flat index idx (row b, neuron i) at step t, as    \
 * Projection._release: x <- 1 + (x - x u - 1) e^(-h/tau_rec), u <- U + u (1 - U) e^(-h/tau_fac) \
 * (the first spike releases x u = U); the exponentials in double with libm's exp, which the \
 * torch path calls too (math.exp), so both give the same bits. */                           \
static void release_##SUFFIX(const propagate_args *a, int64_t idx, int64_t t) {                \
    const int64_t b = idx / a->n_pre;                                                          \
    T *x = a->stp_x, *u = a->stp_u, *last = a->stp_last;                                       \
    const T U = ((const T *)a->U)[b];                                                          \
    const double tau_rec = ((const T *)a->tau_rec)[b], tau_fac = ((const T *)a->tau_fac)[b];   \
    const double now = (double)t * a->dt;                                                      \
    if (last[idx] >= 0) {                                                                      \
        const double h = now - (double)last[idx];                                              \
        const T dx = (T)exp(-h / tau_rec), du = tau_fac > 0 ? (T)exp(-h / tau_fac) : (T)0;     \
        const T xe = x[idx], ue = u[idx];                                                      \
        x[idx] = (T)1 + (((xe - xe * ue) - (T)1) * dx);                                        \
        u[idx] = U + ((ue * ((T)1 - U)) * du);                                                 \
    }                                                                                          \
    last[idx] = (T)now;                                                                        \
    ((T *)a->scale)[idx] = x[idx] * u[idx];                                                    \
}                                                                                              \
                                                                                               \
/* The outgoing synapses of the spike at flat index idx (row b, neuron i) whose targets lie   \
 * in [plo, phi): their weights add to this step's buffer, or to the delay ring's slot. */    \
static inline void deliver_##SUFFIX(const propagate_args *a, int64_t idx, int64_t t, int64_t plo, int64_t phi, \
                                    int clear) {                                               \
    const int64_t b = idx / a->n_pre, i = idx - b * a->n_pre, n_post = a->n_post;             \
    const int64_t *ptr = a->ptr, *post = a->post, *delay = a->delay;                           \
    const T *w = (const T *)a->w + (a->w_rows > 1 ? b * a->n_syn : 0);                         \
    int64_t s0 = ptr[i], s1 = ptr[i + 1];                                                      \
    if (plo > 0) s0 = lower_bound(post, s0, s1, plo); /* a row's targets are ascending */      \
    if (phi < n_post) s1 = lower_bound(post, s0, s1, phi);                                     \
    const T scale = a->stp_x ? ((const T *)a->scale)[idx] : (T)1;                              \
    if (delay) {                                                                               \
        T *ring = a->ring;                                                                     \
        if (a->stp_x) for (int64_t s = s0; s < s1; s++)                                        \
            ring[(((t + delay[s]) % a->slots) * a->B + b) * n_post + post[s]] += w[s] * scale; \
        else for (int64_t s = s0; s < s1; s++)                                                 \
            ring[(((t + delay[s]) % a->slots) * a->B + b) * n_post + post[s]] += w[s];         \
    } else {                                                                                   \
        T *out = (T *)((t % 2) ? a->buf1 : a->buf0) + b * n_post;                              \
        if (clear) for (int64_t s = s0; s < s1; s++) out[post[s]] = 0;                         \
        else if (a->stp_x) for (int64_t s = s0; s < s1; s++) out[post[s]] += w[s] * scale;     \
        else for (int64_t s = s0; s < s1; s++) out[post[s]] += w[s];                           \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* End of step t for the targets [plo, phi): what the delay ring holds for now arrives. */   \
static void arrive_range_##SUFFIX(const propagate_args *a, int64_t t, int64_t plo, int64_t phi) { \
    if (!a->delay) return;                                                                     \
    T *out = (t % 2) ? a->buf1 : a->buf0;                                                      \
    T *now = (T *)a->ring + (t % a->slots) * a->B * a->n_post;                                 \
    for (int64_t b = 0; b < a->B; b++)                                                         \
        for (int64_t j = b * a->n_post + plo; j < b * a->n_post + phi; j++) { out[j] += now[j]; now[j] = 0; } \
}                                                                                              \
                                                                                               \
/* Step t writes buffer t % 2 = (the other buffer) * decay + the weights of the outgoing     \
 * synapses of every spike, in order of batch row, neuron, synapse (via the delay ring when   \
 * there are delays). The other buffer is the current published by the previous step. */     \
void propagate_##SUFFIX(const propagate_args *a, const T *spikes, int64_t t) {                 \
    decay_range_##SUFFIX(a, t, 0, a->n_post);                                                  \
    int64_t list[64];                                                                          \
    const int64_t size = a->B * a->n_pre;                                                      \
    for (int64_t i0 = 0; i0 < size; i0 += 64) {                                                \
        const int64_t found = scan_##SUFFIX(spikes, i0, i0 + 64 < size ? i0 + 64 : size, list); \
        for (int64_t k = 0; k < found; k++) {                                                  \
            if (a->stp_x) release_##SUFFIX(a, list[k], t);                                     \
            deliver_##SUFFIX(a, list[k], t, 0, a->n_post, 0);                                  \
        }                                                                                      \
    }                                                                                          \
    arrive_range_##SUFFIX(a, t, 0, a->n_post);                                                 \
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

/* Run `steps` steps of a program from step t0 on `threads` threads (OpenMP, where compiled
 * with it), appending (step, recorder, flat index) triples for recorded spikes to `events`.
 * Each thread updates its own share of every population's neurons and of every projection's
 * TARGETS (so no two threads add into one value, and each value receives its additions in the
 * order of one thread: spikes are identical for any thread count). Threads wait for each other
 * where populations give way to projections (which read this step's spikes) and at the end of
 * a step (populations read the currents projections published). Stops early, before a step that might not fit, and returns the number of steps
 * done; *n_events says how many triples were written. */
#define DEFINE_PROGRAM(T, SUFFIX)                                                              \
static int64_t op_size_##SUFFIX(const program_op *op) {                                        \
    if (op->kind == OP_LIF) { const lif_args *a = op->args; return a->B * a->n; }              \
    if (op->kind == OP_MODEL) { const model_args *m = op->args; return m->B * m->n; }          \
    return 0;                                                                                  \
}                                                                                              \
                                                                                               \
static T *op_spikes_##SUFFIX(const program_op *op) {                                           \
    return op->kind == OP_LIF ? ((const lif_args *)op->args)->spikes : ((const model_args *)op->args)->spikes; \
}                                                                                              \
                                                                                               \
/* Deliver (or, with clear, zero the targets of) the spikes in slot `slot` of op `from`. */     \
static void deliver_list_##SUFFIX(const propagate_args *a, const program_op *from, int64_t slot, \
        int64_t size, int64_t t, int64_t lo, int64_t hi, int64_t team, int clear) {           \
    if (lo >= hi) return;                                                                      \
    for (int64_t k = 0; k < team; k++) {                                                       \
        int64_t slo, shi;                                                                      \
        share(size, team, k, &slo, &shi);                                                      \
        const int64_t *fired = from->fired + slot * size + slo;                                \
        const int64_t count = from->n_fired[slot * MAX_THREADS + k];                           \
        for (int64_t f = 0; f < count; f++) deliver_##SUFFIX(a, fired[f], t, lo, hi, clear);   \
    }                                                                                          \
}                                                                                              \
                                                                                               \
static void op_step_##SUFFIX(program_op *op, int64_t t, int64_t step, int64_t tid, int64_t team) { \
    int64_t lo, hi;                                                                            \
    if (op->kind == OP_PROPAGATE) {                                                            \
        const propagate_args *a = op->args;                                                    \
        const program_op *from = op->source;                                                   \
        const int64_t size = op_size_##SUFFIX(from), now = from->slot;                         \
        if (a->stp_x) { /* each thread releases the spikes of its own segment, then all deliver */ \
            share(size, team, tid, &lo, &hi);                                                  \
            const int64_t *fired = from->fired + now * size + lo;                              \
            for (int64_t f = 0; f < from->n_fired[now * MAX_THREADS + tid]; f++) release_##SUFFIX(a, fired[f], t); \
            BARRIER(team)                                                                      \
        }                                                                                      \
        share(a->n_post, team, tid, &lo, &hi);                                                 \
        int64_t *delivered = op->delivered + (t % 2) * MAX_THREADS + tid;                      \
        if (a->jump && !a->delay && step >= 2) /* zero only what step t - 2 wrote */           \
            deliver_list_##SUFFIX(a, from, *delivered, size, t, lo, hi, team, 1);              \
        else                                                                                   \
            decay_range_##SUFFIX(a, t, lo, hi);                                                \
        deliver_list_##SUFFIX(a, from, now, size, t, lo, hi, team, 0);                         \
        *delivered = now;                                                                      \
        arrive_range_##SUFFIX(a, t, lo, hi);                                                   \
        return;                                                                                \
    }                                                                                          \
    const int64_t size = op_size_##SUFFIX(op);                                                 \
    share(size, team, tid, &lo, &hi);                                                          \
    if (op->kind == OP_LIF) {                                                                  \
        const lif_args *a = op->args;                                                          \
        const T *c0 = 0, *c1 = 0;                                                              \
        if (op->n_sources > 2) { /* their sum, added in wiring order */                        \
            T *sum = op->scratch;                                                              \
            const T *first = published(op->sources[0], t);                                     \
            for (int64_t i = lo; i < hi; i++) sum[i] = first[i];                               \
            for (int64_t s = 1; s < op->n_sources; s++) {                                      \
                const T *more = published(op->sources[s], t);                                  \
                for (int64_t i = lo; i < hi; i++) sum[i] = sum[i] + more[i];                   \
            }                                                                                  \
            c0 = sum;                                                                          \
        } else {                                                                               \
            if (op->n_sources > 0) c0 = published(op->sources[0], t);                          \
            if (op->n_sources > 1) c1 = published(op->sources[1], t);                          \
        }                                                                                      \
        lif_range_##SUFFIX(a, c0, c1, lo, hi);                                                 \
    } else {                                                                                   \
        model_args m = *(const model_args *)op->args;                                          \
        m.current = op->inputs[0] ? published(op->inputs[0], t) : op->scratch; /* zeros */     \
        m.exc = op->inputs[1] ? published(op->inputs[1], t) : op->scratch;                     \
        m.inh = op->inputs[2] ? published(op->inputs[2], t) : op->scratch;                     \
        m.t = t;                                                                               \
        ((model_range_fn)op->fn)(&m, lo, hi);                                                  \
    }                                                                                          \
    op->slot = t % 3; /* every thread writes the same value */                                 \
    op->n_fired[op->slot * MAX_THREADS + tid] = scan_##SUFFIX(op_spikes_##SUFFIX(op), lo, hi, op->fired + op->slot * size + lo); \
}                                                                                              \
                                                                                               \
/* Append (step, recorder, flat index) for the spikes of the recorded ops among ops[from:to]. */ \
static void record_##SUFFIX(const program_op *ops, int64_t from, int64_t to, int64_t t, int64_t team, \
                            int64_t *events, int64_t *k_) {                                    \
    int64_t k = *k_;                                                                           \
    for (int64_t o = from; o < to; o++) {                                                      \
        const program_op *op = ops + o;                                                        \
        if (op->record < 0 || op->kind == OP_PROPAGATE) continue;                              \
        const int64_t size = op_size_##SUFFIX(op);                                             \
        for (int64_t j = 0; j < team; j++) {                                                   \
            int64_t slo, shi;                                                                  \
            share(size, team, j, &slo, &shi);                                                  \
            const int64_t *fired = op->fired + op->slot * size + slo;                          \
            for (int64_t f = 0; f < op->n_fired[op->slot * MAX_THREADS + j]; f++) {            \
                events[k++] = t; events[k++] = op->record; events[k++] = fired[f];             \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    *k_ = k;                                                                                   \
}                                                                                              \
                                                                                               \
int64_t run_program_##SUFFIX(program_op *ops, int64_t n_ops, int64_t t0, int64_t steps,        \
                             int64_t *events, int64_t capacity, int64_t per_step_max,          \
                             int64_t *n_events, int64_t threads) {                             \
    int64_t k = 0, done = 0;                                                                   \
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;                \
    PARALLEL(threads)                                                                          \
    {                                                                                          \
        const int64_t tid = THREAD_ID, team = TEAM_SIZE;                                       \
        for (int64_t o = 0; o < n_ops; o++) { /* the spikes ops hold now, as lists */          \
            program_op *op = ops + o;                                                          \
            if (op->kind == OP_PROPAGATE) continue;                                            \
            int64_t lo, hi;                                                                    \
            const int64_t size = op_size_##SUFFIX(op);                                         \
            share(size, team, tid, &lo, &hi);                                                  \
            op->slot = ((t0 - 1) % 3 + 3) % 3; /* as if written by the step before */          \
            op->n_fired[op->slot * MAX_THREADS + tid] =                                        \
                scan_##SUFFIX(op_spikes_##SUFFIX(op), lo, hi, op->fired + op->slot * size + lo); \
        }                                                                                      \
        BARRIER(team)                                                                          \
        for (int64_t step = 0; step < steps; step++) {                                         \
            if (k + 3 * per_step_max > capacity) break; /* k changes only between barriers */  \
            const int64_t t = t0 + step;                                                       \
            int64_t recorded = 0; /* the spikes of ops before this one are recorded */         \
            for (int64_t o = 0; o < n_ops; o++) {                                              \
                /* a barrier where populations give way to projections or back: projections   \
                 * read this step's spike lists, populations the currents of the last step */ \
                if (o > 0 && (ops[o].kind == OP_PROPAGATE) != (ops[o - 1].kind == OP_PROPAGATE)) { \
                    BARRIER(team)                                                              \
                    if (tid == 0) record_##SUFFIX(ops, recorded, o, t, team, events, &k);      \
                    recorded = o;                                                              \
                }                                                                              \
                op_step_##SUFFIX(ops + o, t, step, tid, team);                                 \
            }                                                                                  \
            BARRIER(team)                                                                      \
            int trailing = 0;                                                                  \
            for (int64_t o = recorded; o < n_ops; o++) trailing |= ops[o].record >= 0;         \
            if (trailing) {                                                                    \
                if (tid == 0) record_##SUFFIX(ops, recorded, n_ops, t, team, events, &k);      \
                BARRIER(team)                                                                  \
            }                                                                                  \
            if (tid == 0) done = step + 1;                                                     \
        }                                                                                      \
    }                                                                                          \
    *n_events = k / 3;                                                                         \
    return done;                                                                               \
}

#ifdef _OPENMP
#include <omp.h>
#define PARALLEL(n) _Pragma("omp parallel num_threads(threads) if (threads > 1)")
#define THREAD_ID omp_get_thread_num()
#define TEAM_SIZE omp_get_num_threads()
#define BARRIER(team) if (team > 1) { _Pragma("omp barrier") }
#else
#define PARALLEL(n)
#define THREAD_ID 0
#define TEAM_SIZE 1
#define BARRIER(team)
#endif

/* Whether this build runs programs on several threads. */
int64_t native_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

DEFINE_KERNELS(float, f32)
DEFINE_PROGRAM(float, f32)
DEFINE_STDP(float, f32)
DEFINE_KERNELS(double, f64)
DEFINE_PROGRAM(double, f64)
DEFINE_STDP(double, f64)
