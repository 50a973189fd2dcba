// Fingerprints of machines we do not have, from fixture trees holding only the files that matter.
import { describe, expect, it } from 'vitest';
import { parseKernelCommandLine, parseKernelCpuList, parseKernelSize } from '../src/fingerprint/cmdline.js';
import { describeEnvironment, formatFingerprint, readFingerprint } from '../src/fingerprint/index.js';
import { expectWellFormed, fixture } from './helpers/fingerprint.js';

const CLOCKSOURCE = '/sys/devices/system/clocksource/clocksource0/current_clocksource';
const AVAILABLE = '/sys/devices/system/clocksource/clocksource0/available_clocksource';

describe('a Xen PV guest', () => {
  const fp = readFingerprint({ root: fixture('xen-pv') });

  it('is a xen vm of guest type pv', () => {
    expect(fp.virtualization).toMatchObject({ role: 'vm', vm: true, container: false });
    expect(fp.virtualization.hypervisor).toEqual({ value: 'xen', source: '/sys/hypervisor/type' });
    expect(fp.virtualization.technology).toEqual({ value: 'xen', source: '/sys/hypervisor/type' });
    expect(fp.virtualization.xenGuestType).toEqual({ value: 'pv', source: '/sys/hypervisor/guest_type' });
    expect(fp.timing.clocksource).toEqual({ value: 'xen', source: CLOCKSOURCE });
  });

  it('has the xen clockevent, and its TIMER_SLOP since no xen_timer_slop= is on the command line', () => {
    const clockevent = '/sys/devices/system/clockevents/clockevent0/current_device';
    expect(fp.timing.clockevent).toEqual({ value: 'xen', source: clockevent });
    expect(fp.timing.xenTimerSlopNs).toEqual({
      value: 100_000,
      source: `${clockevent} = xen: Linux's xen clockevent never arms a timer closer than TIMER_SLOP (xen_timer_slop= is not on the kernel command line (/proc/cmdline))`,
    });
    expect(fp.virtualization.xenDomain).toEqual({ value: 'domU', source: '/proc/xen/capabilities is absent (Dom0 has it: its tools need xenfs)' });
  });

  it('reads the kernel config from /boot when /proc/config.gz is absent', () => {
    const config = '/boot/config-6.1.0-18-amd64';
    expect(fp.kernel.preemption).toEqual({ value: 'PREEMPT_DYNAMIC', source: `${config}: CONFIG_PREEMPT_DYNAMIC=y` });
    expect(fp.kernel.preemptDynamicMode.value).toBe('voluntary');
    expect((fp.kernel.preemptDynamicMode as { source: string }).source).toMatch(/^\/boot\/config-6\.1\.0-18-amd64: CONFIG_PREEMPT_VOLUNTARY=y \(the boot choice; /);
    expect(fp.kernel.hz).toEqual({ value: 250, source: `${config}: CONFIG_HZ=250` });
    expect(fp.kernel.noHz).toEqual({ value: 'idle', source: `${config}: CONFIG_NO_HZ_IDLE=y` });
    expect(describeEnvironment(fp)).toBe('guest xen pv / PREEMPT_DYNAMIC');
  });

  it('is well formed', () => expectWellFormed(fp));
});

describe('a Xen PVH guest', () => {
  const fp = readFingerprint({ root: fixture('xen-pvh') });

  it('is a xen vm of guest type pvh, with the timer slop given on the command line', () => {
    expect(fp.virtualization.role).toBe('vm');
    expect(fp.virtualization.xenGuestType).toEqual({ value: 'pvh', source: '/sys/hypervisor/guest_type' });
    expect(fp.timing.xenTimerSlopNs).toEqual({ value: 50_000, source: '/proc/cmdline: xen_timer_slop=50000' });
  });

  it('falls back to the version string for preemption when no config is readable', () => {
    expect(fp.kernel.preemption).toEqual({ value: 'PREEMPT', source: '/proc/sys/kernel/version (version string)' });
    expect(fp.kernel.hz.value).toBeNull();
    expect((fp.kernel.hz as { reason: string }).reason).toBe('/proc/config.gz is absent; /boot/config-6.6.30 is absent');
    expect(describeEnvironment(fp)).toBe('guest xen pvh / PREEMPT');
  });
});

describe('a Xen HVM guest', () => {
  const fp = readFingerprint({ root: fixture('xen-hvm') });

  it('is a xen vm of guest type hvm, with its DMI strings recorded', () => {
    expect(fp.virtualization.role).toBe('vm');
    expect(fp.virtualization.hypervisor.value).toBe('xen');
    expect(fp.virtualization.xenGuestType).toEqual({ value: 'hvm', source: '/sys/hypervisor/guest_type' });
    expect(fp.virtualization.dmi).toEqual({ value: { sysVendor: 'Xen', productName: 'HVM domU', biosVendor: 'Xen' }, source: '/sys/class/dmi/id' });
    expect(fp.virtualization.cpuHypervisorFlag).toEqual({ value: true, source: '/proc/cpuinfo: flags' });
  });

  it('parses a timer slop with a size suffix, and the kernel release and version from /proc/version', () => {
    expect(fp.timing.xenTimerSlopNs).toEqual({ value: 65_536, source: '/proc/cmdline: xen_timer_slop=64K' });
    expect(fp.kernel.version).toEqual({ value: '#115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024', source: '/proc/version' });
    expect(fp.kernel.release).toEqual({ value: '5.15.0-105-generic', source: '/proc/sys/kernel/osrelease' });
  });

  it('says why the preemption model is unknown when the version string has no flag', () => {
    expect(fp.kernel.preemption.value).toBeNull();
    expect((fp.kernel.preemption as { reason: string }).reason).toMatch(/no PREEMPT flag, so the model is NONE or VOLUNTARY and no kernel config tells which/);
  });
});

describe('Xen\'s Dom0', () => {
  const fp = readFingerprint({ root: fixture('xen-dom0') });

  it('is a xen vm that is Dom0, labelled so, with the xen clockevent\'s slop', () => {
    expect(fp.virtualization).toMatchObject({ role: 'vm', vm: true });
    expect(fp.virtualization.hypervisor).toEqual({ value: 'xen', source: '/sys/hypervisor/type' });
    expect(fp.virtualization.xenDomain).toEqual({ value: 'dom0', source: '/proc/xen/capabilities: control_d' });
    expect(fp.virtualization.xenGuestType.value).toBe('pv');
    expect(fp.virtualization.vmEvidence).toContain('Xen dom0 (/proc/xen/capabilities: control_d): its vCPUs are still scheduled by Xen');
    expect(fp.timing.xenTimerSlopNs.value).toBe(100_000);
    expect(describeEnvironment(fp)).toMatch(/^xen dom0 \//);
  });

  it('is well formed', () => expectWellFormed(fp));
});

describe('a Xen HVM guest on the local APIC\'s timer', () => {
  it('keeps the slop its command line gives, and says which clockevent it has', () => {
    const fp = readFingerprint({ root: fixture('xen-hvm') });
    expect(fp.timing.clockevent.value).toBe('lapic-deadline');
    expect(fp.timing.xenTimerSlopNs.value).toBe(65_536);
  });
});

describe('a PREEMPT_RT kernel', () => {
  const fp = readFingerprint({ root: fixture('preempt-rt') });

  it('is PREEMPT_RT because /sys/kernel/realtime is 1', () => {
    expect(fp.kernel.preemption).toEqual({ value: 'PREEMPT_RT', source: '/sys/kernel/realtime = 1' });
    expect(fp.kernel.preemptDynamicMode).toEqual({ value: null, reason: 'not a PREEMPT_DYNAMIC kernel (PREEMPT_RT)' });
    expect(describeEnvironment(fp)).toBe('host / PREEMPT_RT');
  });

  it('gives each file it lacks as null with a reason naming the file', () => {
    expect(fp.timing.clocksource).toEqual({ value: null, reason: `${CLOCKSOURCE} is absent` });
    expect(fp.timing.rtRuntimeUs).toEqual({ value: null, reason: '/proc/sys/kernel/sched_rt_runtime_us is absent' });
    expect(fp.cpus.online).toEqual({ value: null, reason: '/sys/devices/system/cpu/online is absent' });
    expect(fp.kernel.commandLine).toEqual({ value: null, reason: '/proc/cmdline is absent' });
    expect(fp.cpus.rcuNocbs).toEqual({ value: null, reason: '/proc/cmdline is absent' });
    expect(fp.virtualization.dmi).toEqual({ value: null, reason: '/sys/class/dmi/id is absent: the firmware provides no SMBIOS/DMI tables' });
    expect(fp.timing.guestHaltPoll.value).toBeNull();
    expect((fp.timing.guestHaltPoll as { reason: string }).reason).toMatch(/^\/sys\/module\/haltpoll\/parameters\/guest_halt_poll_ns is absent/);
    expectWellFormed(fp);
  });
});

describe('a Docker container on bare metal', () => {
  const fp = readFingerprint({ root: fixture('docker') });

  it('is a container (docker) and not a vm', () => {
    expect(fp.virtualization).toMatchObject({ role: 'container', vm: false, container: true });
    expect(fp.virtualization.containerTechnology).toEqual({ value: 'docker', source: '/.dockerenv' });
    expect(fp.virtualization.cpuHypervisorFlag).toEqual({ value: false, source: '/proc/cpuinfo: flags' });
    expect(fp.virtualization.technology).toEqual({ value: null, reason: 'not a virtual machine' });
    expect(describeEnvironment(fp)).toBe('container docker / PREEMPT_DYNAMIC');
  });
});

describe('a Podman container in a KVM guest', () => {
  const fp = readFingerprint({ root: fixture('podman-in-kvm') });

  it('is vm+container: podman by PID 1\'s environment, kvm by its paravirtual clock', () => {
    expect(fp.virtualization).toMatchObject({ role: 'vm+container', vm: true, container: true });
    expect(fp.virtualization.containerTechnology).toEqual({ value: 'podman', source: '/proc/1/environ: container=podman' });
    expect(fp.virtualization.hypervisor).toEqual({ value: 'kvm', source: `${AVAILABLE}: kvm-clock` });
    expect(fp.virtualization.technology.value).toBe('kvm');
    expect(describeEnvironment(fp)).toBe('container podman on guest kvm / PREEMPT_DYNAMIC');
  });

  it('reads the guest haltpoll parameters', () => {
    expect(fp.timing.guestHaltPoll).toEqual({
      value: { pollNs: 200_000, growStartNs: 50_000, grow: 2, shrink: 2, allowShrink: true },
      source: '/sys/module/haltpoll/parameters',
    });
    expect(fp.timing.kvmHaltPollNs.value).toBeNull();
  });
});

describe('a Firecracker microVM whose root filesystem came from a Docker image', () => {
  const fp = readFingerprint({ root: fixture('firecracker') });

  it('is firecracker on kvm, by the OEM ID of its ACPI tables', () => {
    expect(fp.virtualization.technology).toEqual({ value: 'firecracker', source: '/sys/firmware/acpi/tables/DSDT: OEM ID' });
    expect(fp.virtualization.hypervisor.value).toBe('kvm');
    expect(fp.virtualization.acpiOemId).toEqual({ value: 'FIRECK', source: '/sys/firmware/acpi/tables/DSDT: OEM ID' });
    expect(describeEnvironment(fp)).toBe('guest kvm (firecracker) / PREEMPT_DYNAMIC');
  });

  it('sets the stale /.dockerenv aside: kthreadd is visible, so this is the initial PID namespace', () => {
    expect(fp.virtualization).toMatchObject({ role: 'vm', container: false });
    expect(fp.virtualization.containerTechnology.value).toBeNull();
    expect(fp.virtualization.containerEvidence[0]).toBe('/.dockerenv (docker)');
    expect(fp.virtualization.containerEvidence[1]).toMatch(/^set aside: \/proc\/2 is kthreadd/);
  });
});

describe('a bare-metal host isolated for RT work and hosting KVM guests', () => {
  const fp = readFingerprint({ root: fixture('host-isolated') });

  it('is a host, not a vm', () => {
    expect(fp.virtualization).toMatchObject({ role: 'host', vm: false, container: false, vmEvidence: [], containerEvidence: [] });
    expect(fp.virtualization.dmi.value).toEqual({ sysVendor: 'Dell Inc.', productName: 'Precision 5820 Tower', biosVendor: 'Dell Inc.' });
  });

  it('reads the current PREEMPT_DYNAMIC mode from debugfs, and the tick from /proc/config.gz', () => {
    expect(fp.kernel.preemption).toEqual({ value: 'PREEMPT_DYNAMIC', source: '/proc/config.gz: CONFIG_PREEMPT_DYNAMIC=y' });
    expect(fp.kernel.preemptDynamicMode).toEqual({ value: 'full', source: '/sys/kernel/debug/sched/preempt' });
    expect(fp.kernel.hz).toEqual({ value: 1000, source: '/proc/config.gz: CONFIG_HZ=1000' });
    expect(fp.kernel.noHz).toEqual({ value: 'full', source: '/proc/config.gz: CONFIG_NO_HZ_FULL=y' });
    expect(describeEnvironment(fp)).toBe('host / PREEMPT_DYNAMIC (full)');
  });

  it('reads isolated, nohz_full and rcu_nocbs CPUs', () => {
    expect(fp.cpus.online).toEqual({ value: [0, 1, 2, 3, 4, 5, 6, 7], source: '/sys/devices/system/cpu/online' });
    expect(fp.cpus.isolated).toEqual({ value: [2, 3, 4, 5], source: '/sys/devices/system/cpu/isolated' });
    expect(fp.cpus.nohzFull).toEqual({ value: [2, 3, 4, 5], source: '/sys/devices/system/cpu/nohz_full' });
    expect(fp.cpus.rcuNocbs).toEqual({ value: [2, 3, 4, 5], source: '/proc/cmdline: rcu_nocbs=2-5' });
    expect(fp.kernel.commandLine.value).toMatch(/^BOOT_IMAGE=.* -- single$/);
  });

  it('reads SMT, cpufreq governors and cpuidle', () => {
    expect(fp.cpus.smtControl).toEqual({ value: 'on', source: '/sys/devices/system/cpu/smt/control' });
    expect(fp.cpus.smtActive).toEqual({ value: true, source: '/sys/devices/system/cpu/smt/active' });
    expect(fp.cpus.cpufreqGovernors.value).toEqual({ 0: 'performance', 1: 'performance', 2: 'performance', 3: 'performance', 4: 'performance', 5: 'performance', 6: 'powersave', 7: 'powersave' });
    expect(fp.cpus.cpuidleDriver).toEqual({ value: 'intel_idle', source: '/sys/devices/system/cpu/cpuidle/current_driver' });
    expect(fp.cpus.cpuidleGovernor).toEqual({ value: 'menu', source: '/sys/devices/system/cpu/cpuidle/current_governor_ro' });
    expect(fp.cpus.cpuidleStates.value).toEqual([
      { name: 'POLL', latencyUs: 0, disabled: false },
      { name: 'C1', latencyUs: 2, disabled: false },
      { name: 'C1E', latencyUs: 10, disabled: false },
      { name: 'C6', latencyUs: 133, disabled: true },
    ]);
    expect(fp.cpus.modelName).toEqual({ value: 'Intel(R) Xeon(R) W-2245 CPU @ 3.90GHz', source: '/proc/cpuinfo: model name' });
  });

  it('reads KVM\'s halt polling, RT throttling and timer slack', () => {
    expect(fp.timing.kvmHaltPollNs).toEqual({ value: 200_000, source: '/sys/module/kvm/parameters/halt_poll_ns' });
    expect(fp.timing.rtRuntimeUs).toEqual({ value: -1, source: '/proc/sys/kernel/sched_rt_runtime_us' });
    expect(fp.timing.rtPeriodUs).toEqual({ value: 1_000_000, source: '/proc/sys/kernel/sched_rt_period_us' });
    expect(fp.timing.timerSlackNs).toEqual({ value: 50_000, source: '/proc/self/timerslack_ns' });
    expect(fp.timing.xenTimerSlopNs).toEqual({ value: null, reason: 'not a Xen guest' });
  });

  it('formats for rtlat info', () => {
    const text = formatFingerprint(fp);
    expect(text).toContain('environment: host / PREEMPT_DYNAMIC (full)  (fingerprint schema 1)');
    expect(text).toMatch(/^ {2}isolated +2-5 {2}\(\/sys\/devices\/system\/cpu\/isolated\)$/m);
    expect(text).toMatch(/^ {2}cpufreq governors +performance on 0-5, powersave on 6-7 {2}/m);
    expect(text).toMatch(/^ {2}RT runtime +unlimited \(-1: RT tasks are never throttled\)/m);
    expect(text).toMatch(/^ {2}KVM halt_poll_ns +200us {2}/m);
    expect(text).toMatch(/^ {2}cpuidle states +POLL \(exit 0ns\), C1 \(exit 2us\), C1E \(exit 10us\), C6 \(exit 133us, disabled\)/m);
    expect(text).toMatch(/^ {2}Xen timer slop +- {2}\(not a Xen guest\)$/m);
  });

  it('is well formed', () => expectWellFormed(fp));
});

describe('other hypervisors, each by its one witness', () => {
  it.each([
    ['qemu-tcg', 'qemu-tcg', '/sys/class/dmi/id: QEMU | Standard PC (i440FX + PIIX, 1996)'],
    ['vmware', 'vmware', '/sys/class/dmi/id: VMware, Inc. | VMware7,1'],
    ['hyperv', 'hyperv', `${AVAILABLE}: hyperv_clocksource_tsc_page`],
  ])('%s', (name, hypervisor, source) => {
    const fp = readFingerprint({ root: fixture(name) });
    expect(fp.virtualization.role).toBe('vm');
    expect(fp.virtualization.hypervisor).toEqual({ value: hypervisor, source });
  });
});

describe('kernel command line parsing', () => {
  it('keeps quoted spaces, takes flags without values, and stops at --', () => {
    const { parameters } = parseKernelCommandLine('root=/dev/sda1 quiet dyndbg="file x.c +p" isolcpus=1 isolcpus=2-3 -- init=ignored');
    expect([...parameters]).toEqual([['root', '/dev/sda1'], ['quiet', null], ['dyndbg', 'file x.c +p'], ['isolcpus', '2-3']]);
  });

  it('reads CPU lists in the boot-parameter grammar', () => {
    expect(parseKernelCpuList('1,3-5', 7)).toEqual([1, 3, 4, 5]);
    expect(parseKernelCpuList('nohz,domain,managed_irq,2-3', 7)).toEqual([2, 3]);
    expect(parseKernelCpuList('0-7:2/4', 7)).toEqual([0, 1, 4, 5]);
    expect(parseKernelCpuList('all', 3)).toEqual([0, 1, 2, 3]);
    expect(parseKernelCpuList('1-N', 3)).toEqual([1, 2, 3]);
    expect(parseKernelCpuList('', 3)).toEqual([]);
    expect(() => parseKernelCpuList('all', null)).toThrow(/number of CPUs/);
    expect(() => parseKernelCpuList('3-1', 7)).toThrow(/not a valid range/);
  });

  it('reads sizes as memparse does', () => {
    expect(parseKernelSize('100000')).toBe(100_000);
    expect(parseKernelSize('64K')).toBe(65_536);
    expect(parseKernelSize('1m')).toBe(1_048_576);
    expect(parseKernelSize('fast')).toBeNull();
  });
});
