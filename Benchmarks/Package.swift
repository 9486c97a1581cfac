// swift-tools-version: 6.1
// Benchmarks for token-broker, kept in their own package so the root package never depends on
// ordo-one/benchmark. Run from the repo root:
//   swift package --package-path Benchmarks --scratch-path Benchmarks/.build-bench benchmark
// scripts/bench-crypto.sh and scripts/bench-registry.sh wrap these in a one-table report.
import PackageDescription

let package = Package(
    name: "token-broker-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "token-broker", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "JOSEBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "JOSEFixtures",
                .product(name: "JOSE", package: "token-broker"),
            ],
            path: "Benchmarks/JOSEBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        // Tenant registry: lookups in the in-memory view (ordo-one benchmark), the view's memory per
        // tenant and full reload times from SQLite / PostgreSQL (plain executables, see bench-registry.sh).
        .executableTarget(
            name: "RegistryBenchmarks",
            dependencies: [
                "RegistryFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TenantRegistry", package: "token-broker"),
            ],
            path: "Benchmarks/RegistryBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .target(
            name: "RegistryFixtures",
            dependencies: [
                .product(name: "TenantRegistry", package: "token-broker"),
                .product(name: "JOSE", package: "token-broker"),
            ],
            path: "Sources/RegistryFixtures"
        ),
        .target(
            name: "JOSEFixtures",
            dependencies: [
                .product(name: "JOSE", package: "token-broker"),
                .product(name: "Keycloak", package: "token-broker"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/JOSEFixtures"
        ),
        // JOSE throughput measured like `openssl speed` (timed loop, no per-operation instrumentation).
        .executableTarget(
            name: "jose-speed",
            dependencies: ["JOSEFixtures", "OpenSSLReference", .product(name: "JOSE", package: "token-broker")],
            path: "Sources/jose-speed"
        ),
        // What `openssl speed rsa2048` times as verify/s, for jose-speed's interleaved comparison (`pair`).
        .target(name: "OpenSSLReference", path: "Sources/OpenSSLReference", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "CMallocInfo", path: "Sources/CMallocInfo"),
        .executableTarget(
            name: "registry-memory",
            dependencies: [
                "RegistryFixtures",
                "CMallocInfo",
                .product(name: "TenantRegistry", package: "token-broker"),
            ],
            path: "Sources/registry-memory"
        ),
        // The host's miss latency (random dependent loads), printed by bench-registry.sh beside the lookups.
        .executableTarget(name: "memory-latency", path: "Sources/memory-latency"),
        .executableTarget(
            name: "registry-reload",
            dependencies: [
                "RegistryFixtures",
                .product(name: "TenantRegistry", package: "token-broker"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/registry-reload"
        ),
    ]
)
