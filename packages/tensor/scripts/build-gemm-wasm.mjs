// Generates the WebAssembly GEMM module of the CPU backend.
//
//   node packages/tensor/scripts/build-gemm-wasm.mjs
//
// 1. Builds the WebAssembly text (src/cpu/gemm/gemm.wat) from the templates below (the micro-kernel is
//    fully unrolled over its register tile, which is tedious to write by hand, hence a generator).
// 2. Assembles it with `wabt` (a devDependency; only this script needs it) and writes the bytes, base64,
//    to src/cpu/gemm/wasm-module.generated.ts. Both outputs are committed: neither the build nor the tests
//    need wabt.
//
// Design (Goto / BLIS): C[i0:i1, j0:j1] = A @ B with loops jc (NC columns) > pc (KC depth) > ic (MC rows)
// > jr (NR) > ir (MR). For each (jc, pc) a KC x NC block of B is packed into NR-wide column panels; for each
// ic an MC x KC block of A into MR-tall row panels (zero padded). The micro-kernel keeps an MR x NR tile of C
// in MR * NR/lanes v128 registers and, for each p, loads NR/lanes vectors of packed B, broadcasts MR values
// of packed A and does mul + add (no fma: relaxed-simd is not enabled in Node 20), so every element of C is
// accumulated in natural p order exactly like a sequential loop (across KC blocks through C itself).
// MR = 5, NR = 2 vectors keeps 10 accumulators + 2 B + 1 broadcast + 1 product = 14 of the 15 xmm registers
// V8 allocates on x64 (measured fastest: ~65 GFLOP/s/core f32 with L1-resident panels on Zen 5; 6x8 and
// unrolled variants spill). C is a padded (multiple of MR rows, NR columns) row-major buffer in wasm memory,
// so every tile is full.
// Threads: the job is cut into tasks (C column blocks, row blocks, or batch ranges); every participating
// thread calls run_f32/run_f64, which claims tasks with a compare-and-swap until none is left (see run()).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'src', 'cpu', 'gemm');

/** Blocking per element type (also written to the TS file: the JS side sizes the pack buffers). */
const CONFIG = {
  f32: { es: 4, lanes: 4, mr: 5, nv: 2, kc: 256, mc: 120, nc: 2048 },
  f64: { es: 8, lanes: 2, mr: 5, nv: 2, kc: 256, mc: 60, nc: 2048 },
};

const L = [];
const emit = (s) => L.push(s);

function kernel(t) {
  const { es, lanes, mr, nv } = CONFIG[t];
  const V = `${t}x${lanes}`;
  const splat = `v128.load${es * 8}_splat`;
  const nr = nv * lanes;
  emit(
    `  ;; micro-kernel: C[0:${mr}, 0:${nr}] (row stride $ldc bytes) = (acc ? C : 0) + Ap(${mr} x kc) @ Bp(kc x ${nr})`,
  );
  emit(
    `  (func $kern_${t} (param $kc i32) (param $ap i32) (param $bp i32) (param $cp i32) (param $ldc i32) (param $acc i32)`,
  );
  const accs = [];
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) accs.push(`(local $c${r}${v} v128)`);
  emit(`    ${accs.join(' ')}`);
  emit(`    ${Array.from({ length: nv }, (_, v) => `(local $b${v} v128)`).join(' ')} (local $a v128)`);
  emit('    (local $end i32) (local $cr i32)');
  emit('    (if (local.get $acc) (then');
  for (let r = 0; r < mr; r++) {
    emit(
      `      (local.set $cr ${r === 0 ? '(local.get $cp)' : '(i32.add (local.get $cr) (local.get $ldc))'})`,
    );
    for (let v = 0; v < nv; v++)
      emit(`      (local.set $c${r}${v} (v128.load offset=${v * 16} (local.get $cr)))`);
  }
  emit('    ))');
  emit(`    (local.set $end (i32.add (local.get $bp) (i32.mul (local.get $kc) (i32.const ${nr * es}))))`);
  // Loop shape matters: with the exit test at the top (block/loop/br_if ... br) V8 keeps the A broadcasts
  // next to their uses; with a bottom-tested loop its scheduler hoists all five broadcasts, runs out of
  // registers and spills three accumulators per iteration (measured: 28 vs 60 GFLOP/s).
  emit('    (block $pdone (loop $p (br_if $pdone (i32.ge_u (local.get $bp) (local.get $end)))');
  for (let v = 0; v < nv; v++) emit(`      (local.set $b${v} (v128.load offset=${v * 16} (local.get $bp)))`);
  for (let r = 0; r < mr; r++) {
    emit(`      (local.set $a (${splat} offset=${r * es} (local.get $ap)))`);
    for (let v = 0; v < nv; v++)
      emit(
        `      (local.set $c${r}${v} (${V}.add (local.get $c${r}${v}) (${V}.mul (local.get $a) (local.get $b${v}))))`,
      );
  }
  emit(`      (local.set $ap (i32.add (local.get $ap) (i32.const ${mr * es})))`);
  emit(`      (local.set $bp (i32.add (local.get $bp) (i32.const ${nr * es})))`);
  emit('      (br $p)))');
  for (let r = 0; r < mr; r++) {
    emit(`    (local.set $cr ${r === 0 ? '(local.get $cp)' : '(i32.add (local.get $cr) (local.get $ldc))'})`);
    for (let v = 0; v < nv; v++)
      emit(`    (v128.store offset=${v * 16} (local.get $cr) (local.get $c${r}${v}))`);
  }
  emit('  )');
}

function packB(t) {
  const { es, lanes, nv } = CONFIG[t];
  const nr = nv * lanes;
  emit(
    `  ;; pack B[0:kc, 0:nc] (byte strides $rs, $cs from $src) into ${nr}-wide column panels, zero padded:`,
  );
  emit(`  ;; dst[panel][p][0:${nr}]`);
  emit(
    `  (func $packB_${t} (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $nc i32) (param $dst i32)`,
  );
  emit('    (local $jr i32) (local $w i32) (local $p i32) (local $s i32) (local $q i32) (local $jj i32)');
  emit('    (block $done (loop $panel');
  emit('      (br_if $done (i32.ge_s (local.get $jr) (local.get $nc)))');
  emit('      (local.set $w (i32.sub (local.get $nc) (local.get $jr)))');
  emit(`      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $jr) (local.get $cs))))`);
  emit('      (local.set $p (local.get $kc))');
  emit(
    `      (if (i32.and (i32.ge_s (local.get $w) (i32.const ${nr})) (i32.eq (local.get $cs) (i32.const ${es})))`,
  );
  emit('        (then (loop $row');
  for (let v = 0; v < nv; v++)
    emit(
      `          (v128.store offset=${v * 16} (local.get $dst) (v128.load offset=${v * 16} (local.get $s)))`,
    );
  emit(`          (local.set $dst (i32.add (local.get $dst) (i32.const ${nr * es})))`);
  emit('          (local.set $s (i32.add (local.get $s) (local.get $rs)))');
  emit('          (br_if $row (local.tee $p (i32.sub (local.get $p) (i32.const 1))))))');
  emit('        (else');
  emit(`          (if (i32.gt_s (local.get $w) (i32.const ${nr})) (then (local.set $w (i32.const ${nr}))))`);
  emit('          (loop $row');
  emit('            (local.set $q (local.get $s))');
  emit('            (local.set $jj (i32.const 0))');
  emit('            (loop $col');
  emit(`              (${t}.store (local.get $dst) (${t}.load (local.get $q)))`);
  emit('              (local.set $q (i32.add (local.get $q) (local.get $cs)))');
  emit(`              (local.set $dst (i32.add (local.get $dst) (i32.const ${es})))`);
  emit(
    '              (br_if $col (i32.lt_s (local.tee $jj (i32.add (local.get $jj) (i32.const 1))) (local.get $w))))',
  );
  emit(`            (block $padded (loop $pad`);
  emit(`              (br_if $padded (i32.ge_s (local.get $jj) (i32.const ${nr})))`);
  emit(`              (${t}.store (local.get $dst) (${t}.const 0))`);
  emit(`              (local.set $dst (i32.add (local.get $dst) (i32.const ${es})))`);
  emit('              (local.set $jj (i32.add (local.get $jj) (i32.const 1)))');
  emit('              (br $pad)))');
  emit('            (local.set $s (i32.add (local.get $s) (local.get $rs)))');
  emit('            (br_if $row (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))))');
  emit(`      (local.set $jr (i32.add (local.get $jr) (i32.const ${nr})))`);
  emit('      (br $panel)))');
  emit('  )');
}

function packA(t) {
  const { es, mr } = CONFIG[t];
  emit(`  ;; pack A[0:mc, 0:kc] (byte strides $rs, $cs from $src) into ${mr}-tall row panels, zero padded:`);
  emit(`  ;; dst[panel][p][0:${mr}]`);
  emit(
    `  (func $packA_${t} (param $src i32) (param $rs i32) (param $cs i32) (param $mc i32) (param $kc i32) (param $dst i32)`,
  );
  emit('    (local $ir i32) (local $h i32) (local $p i32) (local $s i32) (local $q i32) (local $ii i32)');
  const rows = [];
  for (let r = 1; r < mr; r++) rows.push(`$r${r}`);
  emit(`    ${rows.map((r) => `(local ${r} i32)`).join(' ')}`);
  for (let r = 1; r < mr; r++) emit(`    (local.set $r${r} (i32.mul (local.get $rs) (i32.const ${r})))`);
  emit('    (block $done (loop $panel');
  emit('      (br_if $done (i32.ge_s (local.get $ir) (local.get $mc)))');
  emit('      (local.set $h (i32.sub (local.get $mc) (local.get $ir)))');
  emit('      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $ir) (local.get $rs))))');
  emit('      (local.set $p (local.get $kc))');
  emit(`      (if (i32.ge_s (local.get $h) (i32.const ${mr}))`);
  emit('        (then (loop $col');
  emit(`          (${t}.store (local.get $dst) (${t}.load (local.get $s)))`);
  for (let r = 1; r < mr; r++)
    emit(
      `          (${t}.store offset=${r * es} (local.get $dst) (${t}.load (i32.add (local.get $s) (local.get $r${r}))))`,
    );
  emit(`          (local.set $dst (i32.add (local.get $dst) (i32.const ${mr * es})))`);
  emit('          (local.set $s (i32.add (local.get $s) (local.get $cs)))');
  emit('          (br_if $col (local.tee $p (i32.sub (local.get $p) (i32.const 1))))))');
  emit('        (else (loop $col');
  emit('          (local.set $q (local.get $s))');
  emit('          (local.set $ii (i32.const 0))');
  emit('          (loop $row');
  emit(`            (${t}.store (local.get $dst) (${t}.load (local.get $q)))`);
  emit('            (local.set $q (i32.add (local.get $q) (local.get $rs)))');
  emit(`            (local.set $dst (i32.add (local.get $dst) (i32.const ${es})))`);
  emit(
    '            (br_if $row (i32.lt_s (local.tee $ii (i32.add (local.get $ii) (i32.const 1))) (local.get $h))))',
  );
  emit('          (block $padded (loop $pad');
  emit(`            (br_if $padded (i32.ge_s (local.get $ii) (i32.const ${mr})))`);
  emit(`            (${t}.store (local.get $dst) (${t}.const 0))`);
  emit(`            (local.set $dst (i32.add (local.get $dst) (i32.const ${es})))`);
  emit('            (local.set $ii (i32.add (local.get $ii) (i32.const 1)))');
  emit('            (br $pad)))');
  emit('          (local.set $s (i32.add (local.get $s) (local.get $cs)))');
  emit('          (br_if $col (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))))');
  emit(`      (local.set $ir (i32.add (local.get $ir) (i32.const ${mr})))`);
  emit('      (br $panel)))');
  emit('  )');
}

function tile(t) {
  const { es, lanes, mr, nv, kc, mc, nc } = CONFIG[t];
  const nr = nv * lanes;
  emit(
    `  ;; C[i0:i1, j0:j1] = A @ B (byte strides; C row stride $ldc bytes; i0 % ${mr} == 0, j0 % ${nr} == 0, k > 0)`,
  );
  emit(
    `  ;; $apk: room for min(${mc}, rows) x min(${kc}, k) packed A; $bpk: min(${kc}, k) x min(${nc}, cols) packed B`,
  );
  emit(
    `  (func $tile_${t} (param $a i32) (param $ars i32) (param $acs i32) (param $b i32) (param $brs i32) (param $bcs i32)`,
  );
  emit(
    '    (param $c i32) (param $ldc i32) (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32) (param $k i32) (param $apk i32) (param $bpk i32)',
  );
  emit('    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)');
  emit('    (local $jr i32) (local $ir i32) (local $ccol i32)');
  emit('    (local.set $jc (local.get $j0))');
  emit('    (loop $jcl');
  emit(`      (local.set $nc (select (i32.sub (local.get $j1) (local.get $jc)) (i32.const ${nc})`);
  emit(`        (i32.lt_s (i32.sub (local.get $j1) (local.get $jc)) (i32.const ${nc}))))`);
  emit('      (local.set $pc (i32.const 0))');
  emit('      (loop $pcl');
  emit(`        (local.set $kc (select (i32.sub (local.get $k) (local.get $pc)) (i32.const ${kc})`);
  emit(`          (i32.lt_s (i32.sub (local.get $k) (local.get $pc)) (i32.const ${kc}))))`);
  emit(
    `        (call $packB_${t} (i32.add (local.get $b) (i32.add (i32.mul (local.get $pc) (local.get $brs))`,
  );
  emit(
    '          (i32.mul (local.get $jc) (local.get $bcs)))) (local.get $brs) (local.get $bcs) (local.get $kc) (local.get $nc) (local.get $bpk))',
  );
  emit('        (local.set $ic (local.get $i0))');
  emit('        (loop $icl');
  emit(`          (local.set $mc (select (i32.sub (local.get $i1) (local.get $ic)) (i32.const ${mc})`);
  emit(`            (i32.lt_s (i32.sub (local.get $i1) (local.get $ic)) (i32.const ${mc}))))`);
  emit(
    `          (call $packA_${t} (i32.add (local.get $a) (i32.add (i32.mul (local.get $ic) (local.get $ars))`,
  );
  emit(
    '            (i32.mul (local.get $pc) (local.get $acs)))) (local.get $ars) (local.get $acs) (local.get $mc) (local.get $kc) (local.get $apk))',
  );
  emit('          (local.set $jr (i32.const 0))');
  emit('          (loop $jrl');
  emit(
    `            (local.set $ccol (i32.add (local.get $c) (i32.mul (i32.add (local.get $jc) (local.get $jr)) (i32.const ${es}))))`,
  );
  emit('            (local.set $ir (i32.const 0))');
  emit('            (loop $irl');
  emit(`              (call $kern_${t} (local.get $kc)`);
  emit(
    `                (i32.add (local.get $apk) (i32.mul (i32.mul (local.get $ir) (local.get $kc)) (i32.const ${es})))`,
  );
  emit(
    `                (i32.add (local.get $bpk) (i32.mul (i32.mul (local.get $jr) (local.get $kc)) (i32.const ${es})))`,
  );
  emit(
    '                (i32.add (local.get $ccol) (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc)))',
  );
  emit('                (local.get $ldc) (local.get $pc))');
  emit(
    `              (br_if $irl (i32.lt_s (local.tee $ir (i32.add (local.get $ir) (i32.const ${mr}))) (local.get $mc))))`,
  );
  emit(
    `            (br_if $jrl (i32.lt_s (local.tee $jr (i32.add (local.get $jr) (i32.const ${nr}))) (local.get $nc))))`,
  );
  emit(
    `          (br_if $icl (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (i32.const ${mc}))) (local.get $i1))))`,
  );
  emit(
    `        (br_if $pcl (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (i32.const ${kc}))) (local.get $k))))`,
  );
  emit(
    `      (br_if $jcl (i32.lt_s (local.tee $jc (i32.add (local.get $jc) (i32.const ${nc}))) (local.get $j1))))`,
  );
  emit('  )');
}

function run(t) {
  const { es } = CONFIG[t];
  const sh = Math.log2(es);
  const d = (i) => `(i32.load offset=${i * 4} (local.get $d))`;
  const r = (i) => `(i32.load offset=${i * 4} (local.get $r))`;
  emit(
    '  ;; Entry point, called by every participating thread: claims tasks of the job described at $d until none',
  );
  emit('  ;; is left. Descriptor (i32 words; strides in elements, addresses in bytes):');
  emit('  ;;   0 m, 1 n, 2 k, 3 batch, 4 a, 5 aRowStride, 6 aColStride, 7 aBatchStride,');
  emit('  ;;   8 b, 9 bRowStride, 10 bColStride, 11 bBatchStride, 12 c, 13 ldc, 14 cBatchStride,');
  emit('  ;;   15 work (pack buffers of thread 0), 16 work bytes per thread, 17 offset of packed B in them,');
  emit('  ;;   18 mask of the thread ids ($tid) allowed to take part (each has its pack buffers),');
  emit('  ;;   20 claim word (job tag << 16 | next task; next = 0xffff while the job is being set up),');
  emit('  ;;   21 number of tasks, 22 tasks done, 23 error flag (set by a worker whose task trapped),');
  emit('  ;;   24 tasks done by threads other than 0 (diagnostics);');
  emit('  ;;   task i at word 32 + 8 i: batch0, batch1, i0, i1, j0, j1.');
  emit(
    '  ;; A claim is a compare-and-swap of the whole claim word, so a late thread can never claim a task of a',
  );
  emit('  ;; job whose descriptor is being rewritten (the tag changes first).');
  emit(`  (func (export "run_${t}") (param $d i32) (param $tid i32)`);
  emit('    (local $old i32) (local $r i32) (local $bi i32) (local $b1 i32) (local $work i32)');
  emit('    (loop $claim');
  emit('      (local.set $old (i32.atomic.load offset=80 (local.get $d)))');
  emit(
    '      (if (i32.ge_u (i32.and (local.get $old) (i32.const 0xffff)) (i32.atomic.load offset=84 (local.get $d)))',
  );
  emit('        (then (return)))');
  emit(`      (if (i32.eqz (i32.and (i32.shr_u ${d(18)} (local.get $tid)) (i32.const 1))) (then (return)))`);
  emit('      (br_if $claim (i32.ne (local.get $old) (i32.atomic.rmw.cmpxchg offset=80 (local.get $d)');
  emit('        (local.get $old) (i32.add (local.get $old) (i32.const 1)))))');
  emit('      ;; claimed: the descriptor now stays put until this task is counted done');
  emit(`      (local.set $work (i32.add ${d(15)} (i32.mul (local.get $tid) ${d(16)})))`);
  emit('      (local.set $r (i32.add (local.get $d) (i32.add (i32.const 128)');
  emit('        (i32.shl (i32.and (local.get $old) (i32.const 0xffff)) (i32.const 5)))))');
  emit(`      (local.set $bi ${r(0)})`);
  emit(`      (local.set $b1 ${r(1)})`);
  emit(
    `      (if (i32.or (i32.ge_s ${r(2)} ${r(3)}) (i32.ge_s ${r(4)} ${r(5)})) (then (local.set $b1 (i32.const 0))))`,
  );
  emit('      (block $done (loop $batch');
  emit('        (br_if $done (i32.ge_s (local.get $bi) (local.get $b1)))');
  emit(`        (call $tile_${t}`);
  emit(`          (i32.add ${d(4)} (i32.shl (i32.mul (local.get $bi) ${d(7)}) (i32.const ${sh})))`);
  emit(`          (i32.shl ${d(5)} (i32.const ${sh})) (i32.shl ${d(6)} (i32.const ${sh}))`);
  emit(`          (i32.add ${d(8)} (i32.shl (i32.mul (local.get $bi) ${d(11)}) (i32.const ${sh})))`);
  emit(`          (i32.shl ${d(9)} (i32.const ${sh})) (i32.shl ${d(10)} (i32.const ${sh}))`);
  emit(`          (i32.add ${d(12)} (i32.shl (i32.mul (local.get $bi) ${d(14)}) (i32.const ${sh})))`);
  emit(`          (i32.shl ${d(13)} (i32.const ${sh}))`);
  emit(
    `          ${r(2)} ${r(3)} ${r(4)} ${r(5)} ${d(2)} (local.get $work) (i32.add (local.get $work) ${d(17)}))`,
  );
  emit('        (local.set $bi (i32.add (local.get $bi) (i32.const 1)))');
  emit('        (br $batch)))');
  emit('      (drop (i32.atomic.rmw.add offset=96 (local.get $d) (i32.ne (local.get $tid) (i32.const 0))))');
  emit('      (drop (i32.atomic.rmw.add offset=88 (local.get $d) (i32.const 1)))');
  emit('      (drop (memory.atomic.notify offset=88 (local.get $d) (i32.const 1)))');
  emit('      (br $claim))');
  emit('  )');
}

emit(';; GENERATED by packages/tensor/scripts/build-gemm-wasm.mjs: edit the generator, not this file.');
emit(';; Packed-panel GEMM (Goto/BLIS style) with a wasm SIMD register-blocked micro-kernel, f32 and f64.');
emit('(module');
emit('  (import "env" "memory" (memory 1 65536 shared))');
for (const t of ['f32', 'f64']) {
  emit('');
  emit(`  ;; ======================== ${t} ========================`);
  kernel(t);
  packB(t);
  packA(t);
  tile(t);
  run(t);
}
emit(')');
const wat = `${L.join('\n')}\n`;

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'gemm.wat'), wat);

const { default: initWabt } = await import('wabt');
const wabt = await initWabt();
const features = { simd: true, threads: true };
const mod = wabt.parseWat('gemm.wat', wat, features);
mod.validate(features);
const { buffer } = mod.toBinary({});
mod.destroy();
const bytes = Buffer.from(buffer);
// The memory import's limits flags byte (0x03 = shared with maximum): the runtime patches it to 0x01 to get
// a module importing an unshared memory where SharedArrayBuffer is unavailable (browsers without COOP/COEP).
const memImport = bytes.indexOf(Buffer.from([6, ...Buffer.from('memory'), 2]));
if (memImport < 0 || bytes[memImport + 8] !== 3) throw new Error('memory import not found');
const memFlagsOffset = memImport + 8;
const b64 = bytes.toString('base64');
const lines = b64.match(/.{1,100}/g) ?? [];
const cfg = (t) => {
  const { es, lanes, mr, nv, kc, mc, nc } = CONFIG[t];
  return `{ es: ${es}, mr: ${mr}, nr: ${nv * lanes}, kc: ${kc}, mc: ${mc}, nc: ${nc} }`;
};
const ts = `// GENERATED by packages/tensor/scripts/build-gemm-wasm.mjs from the templates there (text: gemm.wat).
// Do not edit: change the generator and run \`node packages/tensor/scripts/build-gemm-wasm.mjs\`.

/** Blocking of the wasm kernels (elements): register tile mr x nr, pack blocks mc x kc (A) and kc x nc (B). */
export const WASM_BLOCKING = {
  f32: ${cfg('f32')},
  f64: ${cfg('f64')},
} as const;

/** Offset of the memory import's limits flags byte (0x03 shared; patch to 0x01 for an unshared memory). */
export const MEMORY_FLAGS_OFFSET = ${memFlagsOffset};

/** The module (${bytes.length} bytes): imports env.memory (shared), exports run_f32(desc, tid), run_f64(desc, tid). */
export const GEMM_WASM_BASE64 =
${lines.map((l) => `  '${l}'`).join(' +\n')};
`;
writeFileSync(join(outDir, 'wasm-module.generated.ts'), ts);
console.log(`gemm.wasm: ${bytes.length} bytes -> ${join(outDir, 'wasm-module.generated.ts')}`);
