// Schedulability on textbook task sets with known answers: Buttazzo's response-time example, Liu and
// Layland's full-utilisation cases, fixed priority and EDF with release jitter, and periodic resources
// whose minimum budgets follow from Shin and Lee's supply bound function; boundary cases included.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { seededUniform } from '../src/measurement/analyze/random.js';
import { analyseTaskSet } from '../src/measurement/analyze/schedulability/schedulability.js';
import { periodicResourceSupply } from '../src/measurement/analyze/schedulability/supply.js';
import { parseTaskSet, type TaskSet } from '../src/measurement/analyze/schedulability/taskset.js';

const MS = 1_000_000;
const taskSet = (value: unknown): TaskSet => parseTaskSet('tasks.json', JSON.stringify(value));
const fp = (...tasks: [string, string, number][]) =>
  taskSet({ scheduler: 'fixed-priority', tasks: tasks.map(([wcet, period, priority], i) => ({ name: `t${i + 1}`, wcet, period, priority })) });
const edf = (...tasks: [string, string, string?][]) =>
  taskSet({ scheduler: 'edf', tasks: tasks.map(([wcet, period, deadline], i) => ({ name: `t${i + 1}`, wcet, period, ...(deadline && { deadline }) })) });

interface SimulatedJob {
  task: number;
  arrival: number;
  deadline: number;
  left: number;
}

/**
 * One CPU in whole ms, preemptive, the ready job `first` orders first running; arrivals at k T, the first
 * of each task released at once and the rest `jitter` late (the bunching that hurts most). Each task's
 * worst response from an arrival.
 */
function simulate(tasks: { c: number; t: number; d?: number }[], horizon: number, jitter: number, first: (a: SimulatedJob, b: SimulatedJob) => number): number[] {
  const worst = tasks.map(() => 0);
  const jobs: SimulatedJob[] = [];
  for (let time = 0; time < horizon; time++) {
    tasks.forEach((task, i) => {
      for (let k = 0; k * task.t < horizon; k++) {
        if ((k === 0 ? 0 : k * task.t + jitter) === time) jobs.push({ task: i, arrival: k * task.t, deadline: k * task.t + (task.d ?? task.t), left: task.c });
      }
    });
    const running = jobs.filter((job) => job.left > 0).sort(first)[0];
    if (!running) continue;
    running.left--;
    if (running.left === 0) worst[running.task] = Math.max(worst[running.task]!, time + 1 - running.arrival);
  }
  return worst;
}

describe('fixed-priority response-time analysis', () => {
  // Buttazzo, Hard Real-Time Computing Systems, the response-time analysis example:
  // (C, T) = (1, 4), (2, 6), (3, 10) under rate-monotonic priorities; U = 0.883, above Liu and
  // Layland's bound for three tasks (0.780), yet schedulable: R = 1, 3, 10.
  const buttazzo = fp(['1ms', '4ms', 3], ['2ms', '6ms', 2], ['3ms', '10ms', 1]);

  it("gives Buttazzo's response times, with the third task exactly at its deadline", () => {
    const result = analyseTaskSet(buttazzo, 0);
    expect(result.tasks.map((task) => task.responseTimeNs)).toEqual([1 * MS, 3 * MS, 10 * MS]);
    expect(result.tasks.map((task) => task.slackNs)).toEqual([3 * MS, 3 * MS, 0]);
    expect(result.utilisation).toBeCloseTo(0.25 + 1 / 3 + 0.3, 12);
    expect(result.utilisation).toBeGreaterThan(3 * (2 ** (1 / 3) - 1));
    expect(result.schedulable).toBe(true);
  });

  it('tolerates no latency at all there: J* = 0, and 1 ns of latency breaks the third task', () => {
    expect(analyseTaskSet(buttazzo, 0).toleratedLatencyNs).toBe(0);
    const late = analyseTaskSet(buttazzo, 1);
    expect(late.schedulable).toBe(false);
    expect(late.tasks.map((task) => task.schedulable)).toEqual([true, true, false]);
    expect(late.marginNs).toBe(-1);
  });

  it('adds release jitter: (1, 4) over (2, 6) with J = 1 ms gives R = 2 and 4 ms, and J* = 2 ms exactly', () => {
    // w2 = 2 + ceil((w2 + J) / 4) = 3, so R2 = w2 + J = 4; beyond J = 1 ms a second job of t1
    // interferes (w2 = 4), and R2 = 4 + J reaches the deadline 6 at J = 2 ms.
    const set = fp(['1ms', '4ms', 2], ['2ms', '6ms', 1]);
    expect(analyseTaskSet(set, 1 * MS).tasks.map((task) => task.responseTimeNs)).toEqual([2 * MS, 4 * MS]);
    const result = analyseTaskSet(set, 1 * MS);
    expect(result.toleratedLatencyNs).toBe(2 * MS);
    expect(result.marginNs).toBe(1 * MS);
    expect(analyseTaskSet(set, 2 * MS).schedulable).toBe(true);
    expect(analyseTaskSet(set, 2 * MS + 1).schedulable).toBe(false);
  });

  it('adds blocking: a 1 ms non-preemptive section below t1 lengthens its response by 1 ms', () => {
    const set = taskSet({ tasks: [{ name: 'a', wcet: '1ms', period: '4ms', priority: 2, blocking: '1ms' }, { name: 'b', wcet: '1ms', period: '8ms', priority: 1 }] });
    expect(set.scheduler).toBe('fixed-priority');
    expect(analyseTaskSet(set, 0).tasks[0]!.responseTimeNs).toBe(2 * MS);
  });

  it('schedules a harmonic set at utilisation exactly 1 (Liu and Layland), with J* = 0', () => {
    const result = analyseTaskSet(fp(['1ms', '2ms', 3], ['1ms', '4ms', 2], ['2ms', '8ms', 1]), 0);
    expect(result.utilisation).toBe(1);
    expect(result.tasks.map((task) => task.responseTimeNs)).toEqual([1 * MS, 2 * MS, 8 * MS]);
    expect(result.schedulable).toBe(true);
    expect(result.toleratedLatencyNs).toBe(0);
  });

  it('misses a deadline of a non-harmonic set at utilisation 1 under rate-monotonic, which EDF schedules', () => {
    const rm = analyseTaskSet(fp(['2ms', '4ms', 2], ['3ms', '6ms', 1]), 0);
    expect(rm.schedulable).toBe(false);
    // t2's first job ends at 7 ms (t1 runs 0-2 and 4-6), its second at 12 ms: R2 = 7 ms, past the period.
    expect(rm.tasks[1]).toMatchObject({ responseTimeNs: 7 * MS, slackNs: -1 * MS });
    expect(rm.toleratedLatencyNs).toBeNull();
    const dynamic = analyseTaskSet(edf(['2ms', '4ms'], ['3ms', '6ms']), 0);
    expect(dynamic.schedulable).toBe(true);
    expect(dynamic.toleratedLatencyNs).toBe(0);
  });

  it('reports the response time of a task late for its deadline, and none where the busy period does not end', () => {
    const late = taskSet({ tasks: [{ name: 'a', wcet: '2ms', period: '3ms', priority: 2 }, { name: 'b', wcet: '2ms', period: '8ms', deadline: '5ms', priority: 1 }] });
    // w2 = 2 + ceil(w2 / 3) * 2: 4, then 6: R2 = 6 ms > D2 = 5 ms, within T2 = 8 ms.
    expect(analyseTaskSet(late, 0).tasks[1]).toMatchObject({ responseTimeNs: 6 * MS, slackNs: -1 * MS, schedulable: false });
    // With T2 = 5 ms the utilisation is above 1: the jobs queue without end, and no number is reported.
    expect(analyseTaskSet(fp(['2ms', '3ms', 2], ['2ms', '5ms', 1]), 0).tasks[1]).toMatchObject({ responseTimeNs: null, slackNs: null, schedulable: false });
  });

  it("follows the busy period past the period: Lehoczky's (26, 70) over (62, 100) gives R2 = 118 at the fifth job", () => {
    // w2(q) = (q + 1) 62 + ceil(w2(q) / 70) 26: 114, 202, 316, 404, 518, 606, 694; R2(q) = w2(q) - 100 q: 114, 102,
    // 116, 104, 118, 106, 94; the seventh job is done at 694 <= 700, before the eighth is released.
    const set = (deadline: string) => taskSet({ tasks: [{ name: 'a', wcet: '26ms', period: '70ms', priority: 2 }, { name: 'b', wcet: '62ms', period: '100ms', deadline, priority: 1 }] });
    expect(analyseTaskSet(set('120ms'), 0).tasks.map((task) => task.responseTimeNs)).toEqual([26 * MS, 118 * MS]);
    expect(analyseTaskSet(set('120ms'), 0).schedulable).toBe(true);
    // The first job alone (114 ms) would meet a 115 ms deadline; the fifth does not.
    expect(analyseTaskSet(set('115ms'), 0).tasks[1]).toMatchObject({ responseTimeNs: 118 * MS, slackNs: -3 * MS, schedulable: false });
  });

  it('is exact against a simulated schedule from the synchronous release, and covers one with jitter, on 300 seeded task sets', () => {
    const uniform = seededUniform(91);
    const pick = (values: number[]) => values[Math.floor(uniform() * values.length)]!;
    let pastThePeriod = 0;
    for (let n = 0; n < 300; n++) {
      let tasks: { c: number; t: number; p: number }[];
      // Up to utilisation 1, so that the busy period ends; distinct priorities, in any order.
      do {
        const count = 2 + Math.floor(uniform() * 3);
        const priorities = Array.from({ length: count }, (_, i) => i + 1).sort(() => uniform() - 0.5);
        tasks = priorities.map((p) => {
          const t = pick([3, 4, 5, 6, 8, 10, 12]);
          return { c: 1 + Math.floor(uniform() * Math.min(4, t)), t, p };
        });
      } while (tasks.reduce((sum, { c, t }) => sum + c / t, 0) > 1);
      const jitter = pick([0, 0, 1]);
      // The deadlines (twice the periods) do not enter the responses: the analysis and the schedule are compared, not verdicts.
      const set = taskSet({ tasks: tasks.map(({ c, t, p }, i) => ({ name: `t${i + 1}`, wcet: `${c}ms`, period: `${t}ms`, deadline: `${2 * t}ms`, priority: p })) });
      const responses = analyseTaskSet(set, jitter * MS).tasks.map((task) => task.responseTimeNs);
      // The highest priority first; within a task, its jobs in order.
      const simulated = simulate(tasks, 480, jitter, (a, b) => tasks[b.task]!.p - tasks[a.task]!.p || a.arrival - b.arrival);
      responses.forEach((response, i) => {
        const at = JSON.stringify({ tasks, jitter, i });
        // Unbounded only at utilisation 1 with jitter, where the jobs can queue without end.
        if (response === null) {
          expect(jitter, at).toBe(1);
          return;
        }
        if (jitter === 0) expect(simulated[i]! * MS, at).toBe(response);
        else expect(simulated[i]! * MS, at).toBeLessThanOrEqual(response);
        if (response > tasks[i]!.t * MS) pastThePeriod++;
      });
    }
    // Responses past the period are among them: the busy period's later jobs were followed.
    expect(pastThePeriod).toBeGreaterThanOrEqual(25);
  });
});

describe("EDF's processor-demand test", () => {
  it('finds J* where the first effective deadline meets the demand: (1, 4) and (2, 6) tolerate 3 ms', () => {
    // dbf(4 - J) = 1 <= 4 - J and dbf(6 - J) = 3 <= 6 - J: both hold up to J = 3 ms, later windows are looser.
    const set = edf(['1ms', '4ms'], ['2ms', '6ms']);
    const result = analyseTaskSet(set, 0);
    expect(result.tasks.every((task) => task.schedulable)).toBe(true);
    expect(result.toleratedLatencyNs).toBe(3 * MS);
    expect(analyseTaskSet(set, 3 * MS).schedulable).toBe(true);
    const beyond = analyseTaskSet(set, 3 * MS + 1);
    expect(beyond.schedulable).toBe(false);
    expect(beyond.demandFailsAtNs).toBe(1 * MS - 1);
  });

  it('checks constrained deadlines: (2, 4, D 3) and (2, 6, D 4) fail at t = 4, (2, 4, D 3) and (1, 6, D 4) pass', () => {
    // dbf(4) = 2 + 2 = 4 <= 4 passes; with a third task (1, 12, D 4), dbf(4) = 5 > 4.
    expect(analyseTaskSet(edf(['2ms', '4ms', '3ms'], ['2ms', '6ms', '4ms']), 0).schedulable).toBe(true);
    const fails = analyseTaskSet(edf(['2ms', '4ms', '3ms'], ['2ms', '6ms', '4ms'], ['1ms', '12ms', '4ms']), 0);
    expect(fails.schedulable).toBe(false);
    expect(fails.demandFailsAtNs).toBe(4 * MS);
  });

  it('fails any set above utilisation 1, and any latency at or past a deadline', () => {
    expect(analyseTaskSet(edf(['3ms', '4ms'], ['2ms', '6ms']), 0).schedulable).toBe(false);
    expect(analyseTaskSet(edf(['1ms', '4ms']), 4 * MS).schedulable).toBe(false);
  });
});

describe("EDF response times (Spuri's analysis)", () => {
  it('gives one task C + J', () => {
    expect(analyseTaskSet(edf(['1ms', '4ms']), 500_000).tasks[0]!.responseTimeNs).toBe(1.5 * MS);
  });

  it('agrees with the demand test and covers a simulated schedule, on 300 seeded task sets', () => {
    const uniform = seededUniform(77);
    const pick = (values: number[]) => values[Math.floor(uniform() * values.length)]!;
    const verdicts = { schedulable: 0, not: 0 };
    for (let n = 0; n < 300; n++) {
      let tasks: { c: number; t: number; d: number }[];
      // Sets up to utilisation 1, so that the busy period ends and the analysis has an answer.
      do {
        tasks = Array.from({ length: 2 + Math.floor(uniform() * 3) }, () => {
          const t = pick([3, 4, 5, 6, 8, 10, 12]);
          const d = Math.max(1, t - Math.floor(uniform() * Math.min(3, t)));
          return { c: 1 + Math.floor(uniform() * Math.min(3, d)), t, d };
        });
      } while (tasks.reduce((sum, { c, t }) => sum + c / t, 0) > 1);
      const jitter = pick([0, 0, 1]);
      const set = edf(...tasks.map(({ c, t, d }): [string, string, string] => [`${c}ms`, `${t}ms`, `${d}ms`]));
      const result = analyseTaskSet(set, jitter * MS);
      const responses = result.tasks.map((task) => task.responseTimeNs);
      // Unbounded only where the busy period is: at utilisation 1 with jitter, which nothing can schedule.
      if (responses.some((r) => r === null)) {
        expect(result.schedulable).toBe(false);
        continue;
      }
      // Spuri's analysis is exact: every deadline met by it exactly when the demand test passes.
      expect(responses.every((r, i) => r! <= tasks[i]!.d * MS), JSON.stringify({ tasks, jitter })).toBe(result.schedulable);
      // And no schedule does worse than it says (here, jobs released J late after the first).
      // The earliest deadline first (ties: lower index first).
      const simulated = simulate(tasks, 240, jitter, (a, b) => a.deadline - b.deadline || a.task - b.task);
      simulated.forEach((worst, i) => expect(worst * MS, JSON.stringify({ tasks, jitter, i })).toBeLessThanOrEqual(responses[i]!));
      verdicts[result.schedulable ? 'schedulable' : 'not']++;
    }
    // Both verdicts represented: at least 25 sets of each.
    expect(Math.min(verdicts.schedulable, verdicts.not), JSON.stringify(verdicts)).toBeGreaterThanOrEqual(25);
  });
});

describe('periodic resource (a vCPU of budget Theta every Pi)', () => {
  it("supplies Shin and Lee's sbf: nothing for the 2 (Pi - Theta) blackout, then Theta per period", () => {
    const supply = periodicResourceSupply({ periodNs: 3, budgetNs: 2 });
    expect([0, 1, 2, 3, 4, 4.5, 5, 6, 7, 8, 9, 10].map((t) => supply.atLeast(t))).toEqual([0, 0, 0, 1, 2, 2, 2, 3, 4, 4, 5, 6]);
    for (const amount of [0.5, 1, 2, 3, 4, 7]) {
      const t = supply.windowFor(amount);
      expect(supply.atLeast(t)).toBeGreaterThanOrEqual(amount - 1e-12);
      expect(supply.atLeast(t - 1e-6)).toBeLessThan(amount);
    }
  });

  it('needs (Pi + C) / 2 for one task of C = 1 ms every Pi = T = 10 ms: 5.5 ms, by both schedulers', () => {
    for (const scheduler of ['fixed-priority', 'edf'] as const) {
      const set = taskSet({ scheduler, tasks: [{ name: 'ctl', wcet: '1ms', period: '10ms', ...(scheduler === 'fixed-priority' && { priority: 1 }) }], vcpu: { period: '10ms', budget: '6ms' } });
      const result = analyseTaskSet(set, 0);
      expect(result.minimumBudgetNs, scheduler).toBe(5.5 * MS);
      // At Theta = 6 ms the task waits out the 8 ms blackout: 1 + 2 (10 - 6) = 9 ms.
      expect(result.tasks[0]!.responseTimeNs, scheduler).toBe(9 * MS);
      expect(result.vcpu).toEqual({ periodNs: 10 * MS, budgetNs: 6 * MS, bandwidth: 0.6 });
      expect(result.schedulable).toBe(true);
    }
  });

  it('needs just C when Pi = T / 2: the task fits in the second period', () => {
    const set = taskSet({ tasks: [{ name: 'ctl', wcet: '1ms', period: '10ms', priority: 1 }], vcpu: { period: '5ms', budget: '1ms' } });
    const result = analyseTaskSet(set, 0);
    expect(result.minimumBudgetNs).toBe(1 * MS);
    expect(result.tasks[0]!.responseTimeNs).toBe(9 * MS);
  });

  it('adds the release latency on top: with J = 1 ms the same task needs 6 ms of every 10 ms', () => {
    // R = sbf^-1(1 ms) + J = 1 + 2 (10 - Theta) + 1 <= 10 ms: Theta >= 6 ms.
    const set = taskSet({ tasks: [{ name: 'ctl', wcet: '1ms', period: '10ms', priority: 1 }], vcpu: { period: '10ms', budget: '6ms' } });
    const result = analyseTaskSet(set, 1 * MS);
    expect(result.minimumBudgetNs).toBe(6 * MS);
    expect(result.tasks[0]!.responseTimeNs).toBe(10 * MS);
    expect(result.toleratedLatencyNs).toBe(1 * MS);
  });

  it('has no minimum budget when even a full vCPU is not enough', () => {
    const set = taskSet({ tasks: [{ name: 'a', wcet: '2ms', period: '4ms', priority: 2 }, { name: 'b', wcet: '3ms', period: '6ms', priority: 1 }], vcpu: { period: '2ms', budget: '2ms' } });
    expect(analyseTaskSet(set, 0).minimumBudgetNs).toBeNull();
  });
});

describe('the task set file', () => {
  const bad = (value: unknown) => () => parseTaskSet('tasks.json', typeof value === 'string' ? value : JSON.stringify(value));
  const ok = { tasks: [{ name: 'ctl', wcet: '1ms', period: '4ms', priority: 3 }] };

  it('reads the example of the issue, deadline defaulting to the period', () => {
    const set = taskSet({ tasks: [{ name: 'ctl', wcet: '1ms', period: '4ms', deadline: '4ms', priority: 3 }, { name: 'log', wcet: '500us', period: '10ms', priority: 1 }], scheduler: 'fixed-priority', vcpu: { period: '5ms', budget: '3ms' } });
    expect(set.tasks[1]).toEqual({ name: 'log', wcetNs: 500_000, periodNs: 10 * MS, deadlineNs: 10 * MS, priority: 1, blockingNs: 0 });
    expect(set.vcpu).toEqual({ periodNs: 5 * MS, budgetNs: 3 * MS });
  });

  it.each([
    ['not JSON', '{', /^tasks\.json: not JSON/],
    ['no tasks', { tasks: [] }, /^tasks\.json: tasks: got \[\], expected a non-empty array/],
    ['a number for a duration', { tasks: [{ wcet: 1, period: '4ms', priority: 1 }] }, /^tasks\.json: tasks\[0\]\.wcet: got 1, expected a duration string with a unit/],
    ['a unit it does not know', { tasks: [{ wcet: '1 parsec', period: '4ms', priority: 1 }] }, /^tasks\.json: tasks\[0\]\.wcet: got "1 parsec", expected a duration in ns\/us\/ms\/s/],
    ['a typo in a field', { tasks: [{ wcet: '1ms', periode: '4ms', priority: 1 }] }, /^tasks\.json: tasks\[0\]\.periode: unknown field/],
    ['a missing priority', { scheduler: 'fixed-priority', tasks: [{ wcet: '1ms', period: '4ms' }] }, /^tasks\.json: tasks\[0\]\.priority: missing/],
    ['an unknown scheduler', { ...ok, scheduler: 'rm' }, /^tasks\.json: scheduler: got "rm", expected "fixed-priority" or "edf"/],
    ['a budget over the period', { ...ok, vcpu: { period: '5ms', budget: '6ms' } }, /^tasks\.json: vcpu\.budget: 6ms is more than its period 5ms/],
    ['a wcet over the deadline', { tasks: [{ wcet: '5ms', period: '4ms', priority: 1 }] }, /^tasks\.json: tasks\[0\]\.wcet: 5ms is longer than its deadline/],
    ['the same name twice', { tasks: [{ name: 'a', wcet: '1ms', period: '4ms', priority: 1 }, { name: 'a', wcet: '1ms', period: '4ms', priority: 2 }] }, /^tasks\.json: tasks\[1\]\.name: "a" is used twice/],
  ])('refuses %s in one line naming the file and the field', (_, value, message) => {
    expect(bad(value)).toThrow(InputError);
    expect(bad(value)).toThrow(message);
    try {
      bad(value)();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('docs/taskset.schema.json', () => {
  const schema = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../docs/taskset.schema.json'), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const validate = ajv.compile(schema);

  it('is a valid schema that accepts the example and what the parser reads, and refuses what it refuses', () => {
    const example = readFileSync(path.resolve(import.meta.dirname, '../examples/taskset.json'), 'utf8');
    expect(validate(JSON.parse(example)), ajv.errorsText(validate.errors)).toBe(true);
    expect(parseTaskSet('examples/taskset.json', example).tasks).toHaveLength(3);
    for (const refused of [{ tasks: [] }, { tasks: [{ wcet: 1, period: '4ms' }] }, { tasks: [{ wcet: '1ms', periode: '4ms' }] }, { tasks: [{ wcet: '1ms', period: '4ms' }], scheduler: 'rm' }]) {
      expect(validate(refused)).toBe(false);
      expect(() => parseTaskSet('tasks.json', JSON.stringify(refused))).toThrow(InputError);
    }
  });
});
