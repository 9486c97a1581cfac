// swift-tools-version: 6.1
// Benchmarks for token-broker, kept in their own package so the root package never depends on
// ordo-one/benchmark. Run from the repo root:
//   swift package --package-path Benchmarks --scratch-path Benchmarks/.build-bench benchmark
import PackageDescription

let package = Package(
    name: "token-broker-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "token-broker", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "JOSEBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "JOSE", package: "token-broker"),
            ],
            path: "Benchmarks/JOSEBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
