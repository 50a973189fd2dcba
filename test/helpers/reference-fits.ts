// The reference implementations the extreme-value fits are checked against: scipy.stats (python3-scipy)
// and R's evd (r-cran-evd), run on the same data through a temporary file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commandRuns, requireTool } from './tools.js';

export const scipy = requireTool('scipy', commandRuns('python3', ['-c', 'import scipy.stats']), 'apt-get install python3-scipy');
export const evd = requireTool('R evd', commandRuns('Rscript', ['-e', 'library(evd)']), 'apt-get install r-cran-evd');

function runWithData(command: string, args: (file: string) => string[], data: readonly number[]): unknown {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-evt-'));
  try {
    const file = path.join(dir, 'data.txt');
    // 17 significant digits: the reference reads exactly the doubles the TypeScript fit saw.
    writeFileSync(file, data.map((x) => x.toPrecision(17)).join('\n') + '\n');
    const result = spawnSync(command, args(file), { encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.error?.message}`);
    const lastLine = result.stdout.trim().split('\n').pop()!;
    return JSON.parse(lastLine);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// scipy's fit minimises with Nelder-Mead at xtol 1e-4 by default; tighter here, so that a difference
// is the TypeScript fit's and not the reference's early stop.
const SCIPY_PRELUDE = `
import json, sys
import numpy as np
from scipy import optimize, stats
data = np.loadtxt(sys.argv[1])
def tight(func, x0, args=(), disp=0):
    return optimize.fmin(func, x0, args=args, xtol=1e-12, ftol=1e-12, maxiter=100000, maxfun=100000, disp=0)
`;

/** scipy.stats.genpareto.fit with loc fixed at 0: scale and shape (scipy's c is xi). */
export function scipyGpd(excesses: readonly number[]): { scale: number; shape: number; logLikelihood: number } {
  const script = `${SCIPY_PRELUDE}
c, loc, scale = stats.genpareto.fit(data, floc=0, optimizer=tight)
print(json.dumps({"scale": scale, "shape": c, "logLikelihood": float(np.sum(stats.genpareto.logpdf(data, c, 0, scale)))}))`;
  return runWithData('python3', (file) => ['-c', script, file], excesses) as ReturnType<typeof scipyGpd>;
}

/** scipy.stats.genextreme.fit: location, scale and shape; scipy's c is -xi. */
export function scipyGev(maxima: readonly number[]): { location: number; scale: number; shape: number; logLikelihood: number } {
  const script = `${SCIPY_PRELUDE}
c, loc, scale = stats.genextreme.fit(data, optimizer=tight)
print(json.dumps({"location": loc, "scale": scale, "shape": -c, "logLikelihood": float(np.sum(stats.genextreme.logpdf(data, c, loc, scale)))}))`;
  return runWithData('python3', (file) => ['-c', script, file], maxima) as ReturnType<typeof scipyGev>;
}

const R_PRELUDE = `
suppressMessages(library(evd))
x <- scan(commandArgs(trailingOnly = TRUE)[1], quiet = TRUE)
tight <- list(reltol = 1e-14, maxit = 10000)
json <- function(values) cat(paste0("{", paste0('"', names(values), '":', format(values, digits = 17), collapse = ","), "}"), "\\n")
`;

/**
 * evd's fpot with threshold 0 on excesses, reparameterised by the quantile exceeded with probability
 * q (mper = 1/q, npp = 1), and its profile-likelihood interval (confint of profile). The reparameterised
 * fit starts from the plain fit's estimate, scaled by it: from evd's default start, optim stops short.
 */
export function evdGpd(excesses: readonly number[], q: number, confidence: number): { scale: number; shape: number; quantile: number; lower: number; upper: number } {
  const script = `${R_PRELUDE}
fit <- fpot(x, 0, control = tight)
start <- list(rlevel = unname(qgpd(1 - ${q}, 0, fit$estimate["scale"], fit$estimate["shape"])), shape = unname(fit$estimate["shape"]))
level <- fpot(x, 0, mper = ${1 / q}, npp = 1, start = start, control = c(tight, list(parscale = c(start$rlevel, 0.1))))
ci <- confint(profile(level, which = "rlevel", conf = ${Math.min(0.999, confidence + 0.04)}), parm = "rlevel", level = ${confidence})
json(c(scale = unname(fit$estimate["scale"]), shape = unname(fit$estimate["shape"]), quantile = unname(level$estimate["rlevel"]), lower = ci[1, 1], upper = ci[1, 2]))`;
  return runWithData('Rscript', (file) => ['-e', script, file], excesses) as ReturnType<typeof evdGpd>;
}

/** evd's fgev, and reparameterised by the quantile with upper-tail probability pb (started as above), with its profile interval. */
export function evdGev(maxima: readonly number[], pb: number, confidence: number): { location: number; scale: number; shape: number; quantile: number; lower: number; upper: number } {
  const script = `${R_PRELUDE}
fit <- fgev(x, control = tight)
e <- fit$estimate
start <- list(quantile = unname(qgev(1 - ${pb}, e["loc"], e["scale"], e["shape"])), scale = unname(e["scale"]), shape = unname(e["shape"]))
level <- fgev(x, prob = ${pb}, start = start, control = c(tight, list(parscale = c(start$scale, start$scale, 0.1))))
ci <- confint(profile(level, which = "quantile", conf = ${Math.min(0.999, confidence + 0.04)}), parm = "quantile", level = ${confidence})
json(c(location = unname(fit$estimate["loc"]), scale = unname(fit$estimate["scale"]), shape = unname(fit$estimate["shape"]), quantile = unname(level$estimate["quantile"]), lower = ci[1, 1], upper = ci[1, 2]))`;
  return runWithData('Rscript', (file) => ['-e', script, file], maxima) as ReturnType<typeof evdGev>;
}

/**
 * scipy's own profile deviance of the GPD quantile exceeded with probability q among excesses, at each
 * of `levels`: 2 (l_max - l_profile(level)), the profile maximised over xi by scipy's bounded scalar search.
 */
export function scipyGpdProfileDeviance(excesses: readonly number[], q: number, levels: readonly number[]): number[] {
  const script = `${SCIPY_PRELUDE}
q = ${q}
def ll(scale, c):
    return float(np.sum(stats.genpareto.logpdf(data, c, 0, scale)))
c, loc, scale = stats.genpareto.fit(data, floc=0, optimizer=tight)
best = ll(scale, c)
def negative_profile(c, level):
    scale = level * c / np.expm1(-c * np.log(q)) if abs(c) > 1e-9 else -level / np.log(q)
    value = -ll(scale, c) if scale > 0 else np.inf
    return value if np.isfinite(value) else 1e300
out = []
for level in ${JSON.stringify(levels)}:
    found = optimize.minimize_scalar(lambda c: negative_profile(c, level), bounds=(-1, 2), method="bounded", options={"xatol": 1e-10})
    out.append(2 * (best + found.fun))
print(json.dumps(out))`;
  return runWithData('python3', (file) => ['-c', script, file], excesses) as number[];
}
