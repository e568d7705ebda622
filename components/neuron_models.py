"""The model library: each standard neuron model is one declaration (components/equations.py).

Parameter defaults are NEST 3.10's (Izhikevich's are his 2003 paper's regular-spiking cell).
Units: ms, mV, pA, nS, pF. Inhibitory weights: negative for current models (added to the
inhibitory current), positive for conductance models (added to g_in).
"""
from .equations import NeuronModel

_COMMON = dict(E_L=-70.0, C_m=250.0, tau_m=10.0, V_th=-55.0, V_reset=-70.0, t_ref=2.0, I_e=0.0)

LIBRARY = {
    "iaf_psc_delta": NeuronModel(
        name="iaf_psc_delta",
        doc="Leaky integrate-and-fire, delta synapses: a spike's weight (mV) jumps v after the step's update, just "
            "before the threshold test, and is dropped while refractory (as NEST iaf_psc_delta).",
        equations="""
dv/dt = (E_L - v)/tau_m + (I_e + I)/C_m : mV (unless refractory)
E_L : mV
C_m : pF
tau_m : ms
V_th : mV
V_reset : mV
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_th", reset="v = V_reset", refractory="t_ref",
        parameters=dict(_COMMON), inputs={"exc": "v", "inh": "v"}, init={"v": "E_L"}, arrival="threshold"),
    "iaf_psc_exp": NeuronModel(
        name="iaf_psc_exp",
        doc="Leaky integrate-and-fire, exponential current synapses (weights in pA; as NEST iaf_psc_exp).",
        equations="""
dv/dt = (E_L - v)/tau_m + (I_ex + I_in + I_e + I)/C_m : mV (unless refractory)
dI_ex/dt = -I_ex/tau_syn_ex : pA
dI_in/dt = -I_in/tau_syn_in : pA
E_L : mV
C_m : pF
tau_m : ms
tau_syn_ex : ms
tau_syn_in : ms
V_th : mV
V_reset : mV
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_th", reset="v = V_reset", refractory="t_ref",
        parameters=dict(_COMMON, tau_syn_ex=2.0, tau_syn_in=2.0), inputs={"exc": "I_ex", "inh": "I_in"},
        init={"v": "E_L"}),
    "iaf_psc_alpha": NeuronModel(
        name="iaf_psc_alpha",
        doc="Leaky integrate-and-fire, alpha current synapses: a weight w (pA) gives the PSC "
            "w (t/tau) e^(1 - t/tau), peaking at w when t = tau (as NEST iaf_psc_alpha).",
        equations="""
dv/dt = (E_L - v)/tau_m + (I_ex + I_in + I_e + I)/C_m : mV (unless refractory)
dI_ex/dt = (exp(1)*x_ex - I_ex)/tau_syn_ex : pA
dx_ex/dt = -x_ex/tau_syn_ex : pA
dI_in/dt = (exp(1)*x_in - I_in)/tau_syn_in : pA
dx_in/dt = -x_in/tau_syn_in : pA
E_L : mV
C_m : pF
tau_m : ms
tau_syn_ex : ms
tau_syn_in : ms
V_th : mV
V_reset : mV
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_th", reset="v = V_reset", refractory="t_ref",
        parameters=dict(_COMMON, tau_syn_ex=2.0, tau_syn_in=2.0), inputs={"exc": "x_ex", "inh": "x_in"},
        init={"v": "E_L"}),
    "iaf_cond_exp": NeuronModel(
        name="iaf_cond_exp",
        doc="Conductance-based leaky integrate-and-fire, exponential conductances (weights in nS; "
            "as NEST iaf_cond_exp, which integrates with adaptive RKF45; here rk4 at dt).",
        equations="""
dv/dt = (g_L*(E_L - v) + g_ex*(E_ex - v) + g_in*(E_in - v) + I_e + I)/C_m : mV (unless refractory)
dg_ex/dt = -g_ex/tau_syn_ex : nS
dg_in/dt = -g_in/tau_syn_in : nS
E_L : mV
E_ex : mV
E_in : mV
C_m : pF
g_L : nS
tau_syn_ex : ms
tau_syn_in : ms
V_th : mV
V_reset : mV
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_th", reset="v = V_reset", refractory="t_ref", method="rk4",
        parameters=dict(E_L=-70.0, E_ex=0.0, E_in=-85.0, C_m=250.0, g_L=16.6667, tau_syn_ex=0.2, tau_syn_in=2.0,
                        V_th=-55.0, V_reset=-60.0, t_ref=2.0, I_e=0.0),
        inputs={"exc": "g_ex", "inh": "g_in"}, init={"v": "E_L"}),
    "izhikevich": NeuronModel(
        name="izhikevich",
        doc="Izhikevich (2003) simple model, forward Euler as in the paper's code and NEST izhikevich; "
            "a spike's weight jumps v. Defaults: regular spiking (a=0.02, b=0.2, c=-65, d=8).",
        equations="""
dv/dt = 0.04*v**2 + 5*v + 140 - u + I_e + I : mV
du/dt = a*(b*v - u) : mV
a : 1
b : 1
c : mV
d : mV
V_th : mV
I_e : pA
I : pA (input)
""",
        threshold="v >= V_th", reset="v = c; u += d", method="euler",
        parameters=dict(a=0.02, b=0.2, c=-65.0, d=8.0, V_th=30.0, I_e=0.0), inputs={"exc": "v", "inh": "v"},
        init={"v": -65.0, "u": -13.0}),
    "aeif_cond_exp": NeuronModel(
        name="aeif_cond_exp",
        doc="Adaptive exponential integrate-and-fire (Brette & Gerstner 2005), exponential conductances "
            "(as NEST aeif_cond_exp, which uses adaptive RKF45; here rk4 at dt). V_peak defaults to "
            "V_T + 5 Delta_T (Naud et al. 2008, Brian2's AdEx examples): with NEST's 0 mV the exponential "
            "overflows inside an rk4 step at dt = 0.1 ms.",
        equations="""
dv/dt = (g_L*(E_L - v) + g_L*Delta_T*exp((v - V_T)/Delta_T) + g_ex*(E_ex - v) + g_in*(E_in - v) - w + I_e + I)/C_m : mV (unless refractory)
dw/dt = (a*(v - E_L) - w)/tau_w : pA
dg_ex/dt = -g_ex/tau_syn_ex : nS
dg_in/dt = -g_in/tau_syn_in : nS
E_L : mV
E_ex : mV
E_in : mV
C_m : pF
g_L : nS
Delta_T : mV
V_T : mV
V_peak : mV
V_reset : mV
a : nS
b : pA
tau_w : ms
tau_syn_ex : ms
tau_syn_in : ms
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_peak", reset="v = V_reset; w += b", refractory="t_ref", method="rk4",
        parameters=dict(E_L=-70.6, E_ex=0.0, E_in=-85.0, C_m=281.0, g_L=30.0, Delta_T=2.0, V_T=-50.4, V_peak=-40.4,
                        V_reset=-60.0, a=4.0, b=80.5, tau_w=144.0, tau_syn_ex=0.2, tau_syn_in=2.0, t_ref=0.0, I_e=0.0),
        inputs={"exc": "g_ex", "inh": "g_in"}, init={"v": "E_L"}),
    "aeif_psc_exp": NeuronModel(
        name="aeif_psc_exp",
        doc="Adaptive exponential integrate-and-fire with exponential current synapses (weights in pA; "
            "as NEST aeif_psc_exp, which uses adaptive RKF45; here rk4 at dt; V_peak as aeif_cond_exp).",
        equations="""
dv/dt = (g_L*(E_L - v) + g_L*Delta_T*exp((v - V_T)/Delta_T) + I_ex + I_in - w + I_e + I)/C_m : mV (unless refractory)
dw/dt = (a*(v - E_L) - w)/tau_w : pA
dI_ex/dt = -I_ex/tau_syn_ex : pA
dI_in/dt = -I_in/tau_syn_in : pA
E_L : mV
C_m : pF
g_L : nS
Delta_T : mV
V_T : mV
V_peak : mV
V_reset : mV
a : nS
b : pA
tau_w : ms
tau_syn_ex : ms
tau_syn_in : ms
t_ref : ms
I_e : pA
I : pA (input)
""",
        threshold="v >= V_peak", reset="v = V_reset; w += b", refractory="t_ref", method="rk4",
        parameters=dict(E_L=-70.6, C_m=281.0, g_L=30.0, Delta_T=2.0, V_T=-50.4, V_peak=-40.4, V_reset=-60.0,
                        a=4.0, b=80.5, tau_w=144.0, tau_syn_ex=0.2, tau_syn_in=2.0, t_ref=0.0, I_e=0.0),
        inputs={"exc": "I_ex", "inh": "I_in"}, init={"v": "E_L"}),
    "adaptive_lif": NeuronModel(
        name="adaptive_lif",
        doc="Leaky integrate-and-fire with a spike-triggered adaptive threshold and homeostatic control "
            "(the AdaptiveLIF block's model, Man, Damasio & Neven 2022), integrated exactly: the threshold "
            "is V_th + theta + h, theta jumps by d_theta per spike and relaxes, h integrates the gap "
            "between the neuron's rate estimate and target_rate (eta_h in mV per Hz per s).",
        equations="""
dv/dt = (E_L - v)/tau_m + (I_e + I)/C_m : mV (unless refractory)
dtheta/dt = -theta/tau_theta : mV
drate/dt = -rate/tau_rate : Hz
dh/dt = 0.001*eta_h*(rate - target_rate) : mV
E_L : mV
C_m : pF
tau_m : ms
V_th : mV
V_reset : mV
t_ref : ms
I_e : pA
d_theta : mV
tau_theta : ms
tau_rate : ms
target_rate : Hz
eta_h : 1
I : pA (input)
""",
        threshold="v >= V_th + theta + h", reset="v = V_reset; theta += d_theta; rate += 1000/tau_rate",
        refractory="t_ref",
        parameters=dict(E_L=-65.0, C_m=250.0, tau_m=20.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0, I_e=0.0, d_theta=1.0,
                        tau_theta=100.0, tau_rate=200.0, target_rate=20.0, eta_h=1.0),
        inputs={"exc": "v", "inh": "v"}, init={"v": "E_L"}),
}
