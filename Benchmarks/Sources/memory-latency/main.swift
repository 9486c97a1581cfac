/// This host's memory latency, as a yardstick for the lookup figures: a lookup at 100k tenants is a few
/// dependent loads that miss every cache (the index slot, then the tenant's view), so its time is mostly
/// this machine's miss latency, which on a shared host moves by 2-3x between days (it did between the
/// seventh and eighth sessions).
///
///   memory-latency [MiB ...]      default: 4 64
///
/// For each size: a buffer of that many MiB, one pointer per 64-byte line, linked in one random cycle
/// (so every load depends on the one before and the prefetchers cannot guess the next line), walked for
/// 4 million loads after one warm-up pass. Printed as `latency mib=N ns_per_load=X pages=4k|huge`, twice per
/// size: on 4 KiB pages, then with `madvise(MADV_HUGEPAGE)` (transparent huge pages, where the kernel
/// grants them), so the share of a miss that is TLB work shows. Single thread, one process.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

func chase(mebibytes: Int, huge: Bool) -> Double {
    let bytes = mebibytes << 20
    let lines = bytes / 64
    var raw: UnsafeMutableRawPointer?
    precondition(posix_memalign(&raw, 2 << 20, bytes) == 0, "posix_memalign failed")
    let base = raw!
    defer { free(base) }
    #if os(Linux)
    if huge { _ = madvise(base, bytes, MADV_HUGEPAGE) }
    #endif
    var order = Array(0..<lines)
    var generator = SystemRandomNumberGenerator()
    order.shuffle(using: &generator)
    for (position, line) in order.enumerated() {
        let next = order[(position + 1) % lines]
        base.storeBytes(of: base + next * 64, toByteOffset: line * 64, as: UnsafeMutableRawPointer.self)
    }
    var cursor = base
    for _ in 0..<lines { cursor = cursor.load(as: UnsafeMutableRawPointer.self) }
    let loads = 4_000_000
    let start = ContinuousClock.now
    for _ in 0..<loads { cursor = cursor.load(as: UnsafeMutableRawPointer.self) }
    let elapsed = ContinuousClock.now - start
    precondition(Int(bitPattern: cursor) != 0)
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    return nanoseconds / Double(loads)
}

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }.filter { $0 > 0 }
for mebibytes in sizes.isEmpty ? [4, 64] : sizes {
    for huge in [false, true] {
        let ns = chase(mebibytes: mebibytes, huge: huge)
        print("latency mib=\(mebibytes) ns_per_load=\(String(format: "%.1f", ns)) pages=\(huge ? "huge" : "4k")")
    }
}
