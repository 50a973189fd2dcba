// Kernel modules for a machine rtlat boots (a lab host's Xen or KVM drivers, an HVM guest's block
// frontend): found in a kernel's module folder (/lib/modules/RELEASE, or the same folder unpacked from
// a Debian package), with the modules each depends on, in the order insmod must load them. There is no
// modules.dep in a package (depmod writes it on install), so dependencies come from each module's own
// .modinfo section ("depends=kvm,ccp").
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The module name the kernel uses: xen-blkfront.ko is xen_blkfront. */
export function moduleName(fileOrName: string): string {
  return path.basename(fileOrName).replace(/\.ko$/, '').replace(/-/g, '_');
}

/** "depends=" of a module file's .modinfo: the modules it needs loaded first. */
export function moduleDependencies(contents: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = contents.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const value = contents.toString('latin1', start, contents.indexOf(0, start));
  return value.split(',').filter(Boolean).map(moduleName);
}

export class KernelModules {
  private files: Map<string, string> | null = null;

  /** `dir` holds kernel/ and modules.builtin, as /lib/modules/RELEASE does. */
  constructor(readonly dir: string) {}

  private index(): Map<string, string> {
    if (this.files) return this.files;
    const files = new Map<string, string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.ko')) files.set(moduleName(entry.name), file);
      }
    };
    if (existsSync(path.join(this.dir, 'kernel'))) walk(path.join(this.dir, 'kernel'));
    this.files = files;
    return files;
  }

  /** Built into the kernel (modules.builtin lists it): nothing to load. */
  isBuiltin(name: string): boolean {
    const builtin = path.join(this.dir, 'modules.builtin');
    if (!existsSync(builtin)) return false;
    return readFileSync(builtin, 'utf8')
      .split('\n')
      .some((line) => line.trim() !== '' && moduleName(line.trim()) === moduleName(name));
  }

  /** True when `name` is built in or there is a module file for it. */
  has(name: string): boolean {
    return this.isBuiltin(name) || this.index().has(moduleName(name));
  }

  /** The module files to insmod for `names`, each after those it depends on; built-in ones are left out. */
  loadOrder(names: readonly string[]): string[] {
    const order: string[] = [];
    const visiting = new Set<string>();
    const visit = (name: string, neededBy: string | null) => {
      const module = moduleName(name);
      const file = this.index().get(module);
      if (file === undefined) {
        if (this.isBuiltin(module)) return;
        throw new Error(`${this.dir} has no module ${module}${neededBy ? ` (which ${neededBy} needs)` : ''}, and the kernel does not have it built in`);
      }
      if (order.includes(file) || visiting.has(module)) return;
      visiting.add(module);
      for (const dependency of moduleDependencies(readFileSync(file))) visit(dependency, module);
      order.push(file);
    };
    for (const name of names) visit(name, null);
    return order;
  }
}
