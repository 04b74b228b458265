/* Test FMUs for Validibot's FMI validator, built from this one file by
 * build_fmus.py. The FMI C API is declared here by hand (its types are plain C
 * types), so no headers need to be fetched.
 *
 *   -DMODEL_DECAY  dx/dt = -k x, x(0) = x0: RK4 with internal steps of at most
 *                  1 ms, so the final value can be checked against x0 exp(-k t).
 *   -DMODEL_NAN    the decay model whose output turns NaN from t = 0.5 on.
 *   -DMODEL_HANG   doStep never returns.
 *   -DMODEL_CRASH  doStep dereferences a null pointer.
 *   -DFMI3         exports the FMI 3.0 Co-Simulation API instead of FMI 2.0.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum { VR_X = 0, VR_K = 1, VR_X0 = 2 };

typedef struct {
    double time, x, k, x0;
} Model;

static double rate(const Model *m, double x) { return -m->k * x; }

static int step(Model *m, double h) {
#if defined(MODEL_HANG)
    volatile double spin = 0;
    for (;;) spin += 1;
#elif defined(MODEL_CRASH)
    *(volatile int *)0 = 1;
#endif
    double left = h;
    while (left > 1e-15) {
        double dt = left < 1e-3 ? left : 1e-3;
        double k1 = rate(m, m->x), k2 = rate(m, m->x + dt / 2 * k1);
        double k3 = rate(m, m->x + dt / 2 * k2), k4 = rate(m, m->x + dt * k3);
        m->x += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
        left -= dt;
    }
    m->time += h;
#if defined(MODEL_NAN)
    if (m->time >= 0.5) m->x = NAN;
#endif
    return 0;
}

static Model *create(void) {
    Model *m = calloc(1, sizeof(Model));
    if (m) { m->k = 1.0; m->x0 = 1.0; m->x = 1.0; }
    return m;
}

static int get(Model *m, unsigned vr, double *out) {
    switch (vr) {
    case VR_X: *out = m->x; return 0;
    case VR_K: *out = m->k; return 0;
    case VR_X0: *out = m->x0; return 0;
    default: return 3;
    }
}

static int set(Model *m, unsigned vr, double v) {
    switch (vr) {
    case VR_K: m->k = v; return 0;
    case VR_X0: m->x0 = v; m->x = v; return 0;
    default: return 3;
    }
}

#ifndef FMI3
/* ---- FMI 2.0 ---------------------------------------------------------- */
typedef void *fmi2Component;
typedef struct {
    void (*logger)(void *, const char *, int, const char *, const char *, ...);
    void *(*allocateMemory)(size_t, size_t);
    void (*freeMemory)(void *);
    void (*stepFinished)(void *, int);
    void *componentEnvironment;
} fmi2CallbackFunctions;

EXPORT const char *fmi2GetTypesPlatform(void) { return "default"; }
EXPORT const char *fmi2GetVersion(void) { return "2.0"; }
EXPORT fmi2Component fmi2Instantiate(const char *name, int type, const char *guid, const char *resources,
                                     const fmi2CallbackFunctions *cb, int visible, int logging) {
    (void)name; (void)resources; (void)visible; (void)logging;
    if (type != 1 || !guid || strcmp(guid, "{validibot-test-decay}") != 0) {
        if (cb && cb->logger) cb->logger(cb->componentEnvironment, name, 3, "error", "wrong type or GUID");
        return NULL;
    }
    return create();
}
EXPORT void fmi2FreeInstance(fmi2Component c) { free(c); }
EXPORT int fmi2SetDebugLogging(fmi2Component c, int on, size_t n, const char *const cats[]) {
    (void)c; (void)on; (void)n; (void)cats; return 0;
}
EXPORT int fmi2SetupExperiment(fmi2Component c, int tolDef, double tol, double start, int stopDef, double stop) {
    (void)tolDef; (void)tol; (void)stopDef; (void)stop;
    ((Model *)c)->time = start;
    return 0;
}
EXPORT int fmi2EnterInitializationMode(fmi2Component c) { (void)c; return 0; }
EXPORT int fmi2ExitInitializationMode(fmi2Component c) { (void)c; return 0; }
EXPORT int fmi2Terminate(fmi2Component c) { (void)c; return 0; }
EXPORT int fmi2Reset(fmi2Component c) {
    Model *m = c; m->x = m->x0; return 0;
}
EXPORT int fmi2GetReal(fmi2Component c, const unsigned vr[], size_t n, double v[]) {
    for (size_t i = 0; i < n; i++) if (get(c, vr[i], &v[i])) return 3;
    return 0;
}
EXPORT int fmi2SetReal(fmi2Component c, const unsigned vr[], size_t n, const double v[]) {
    for (size_t i = 0; i < n; i++) if (set(c, vr[i], v[i])) return 3;
    return 0;
}
EXPORT int fmi2DoStep(fmi2Component c, double t, double h, int noSetPrior) {
    (void)t; (void)noSetPrior;
    return step(c, h);
}
EXPORT int fmi2CancelStep(fmi2Component c) { (void)c; return 3; }
#else
/* ---- FMI 3.0 ---------------------------------------------------------- */
typedef void *fmi3Instance;
typedef void (*fmi3LogMessageCallback)(void *, int, const char *, const char *);

EXPORT const char *fmi3GetVersion(void) { return "3.0"; }
EXPORT fmi3Instance fmi3InstantiateCoSimulation(const char *name, const char *token, const char *resources,
                                               bool visible, bool logging, bool eventMode, bool earlyReturn,
                                               const uint32_t required[], size_t nRequired, void *env,
                                               fmi3LogMessageCallback log, void *intermediate) {
    (void)name; (void)resources; (void)visible; (void)logging; (void)eventMode; (void)earlyReturn;
    (void)required; (void)nRequired; (void)intermediate;
    if (!token || strcmp(token, "{validibot-test-decay}") != 0) {
        if (log) log(env, 3, "error", "wrong instantiation token");
        return NULL;
    }
    return create();
}
EXPORT void fmi3FreeInstance(fmi3Instance c) { free(c); }
EXPORT int fmi3EnterInitializationMode(fmi3Instance c, bool tolDef, double tol, double start, bool stopDef, double stop) {
    (void)tolDef; (void)tol; (void)stopDef; (void)stop;
    ((Model *)c)->time = start;
    return 0;
}
EXPORT int fmi3ExitInitializationMode(fmi3Instance c) { (void)c; return 0; }
EXPORT int fmi3Terminate(fmi3Instance c) { (void)c; return 0; }
EXPORT int fmi3GetFloat64(fmi3Instance c, const uint32_t vr[], size_t n, double v[], size_t nv) {
    if (nv < n) return 3;
    for (size_t i = 0; i < n; i++) if (get(c, vr[i], &v[i])) return 3;
    return 0;
}
EXPORT int fmi3SetFloat64(fmi3Instance c, const uint32_t vr[], size_t n, const double v[], size_t nv) {
    if (nv < n) return 3;
    for (size_t i = 0; i < n; i++) if (set(c, vr[i], v[i])) return 3;
    return 0;
}
EXPORT int fmi3DoStep(fmi3Instance c, double t, double h, bool noSetPrior, bool *eventNeeded, bool *terminate,
                      bool *early, double *last) {
    (void)noSetPrior;
    *eventNeeded = false; *terminate = false; *early = false;
    int s = step(c, h);
    *last = t + h;
    return s;
}
#endif
