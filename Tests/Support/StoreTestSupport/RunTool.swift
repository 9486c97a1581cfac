import Foundation

/// Runs a command to completion and returns its standard output; throws with `hint` and its standard error when
/// it fails.
/// Standard error goes to a file, so a child that writes a lot there cannot block on a full pipe while this
/// reads standard output.
@discardableResult
@available(*, noasync, message: "blocks until the tool exits: the async overload runs it off the cooperative pool")
public func runTool(_ path: String, _ arguments: [String], hint: String = "") throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("runTool-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorFile) }
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    defer { try? errorHandle.close() }
    process.standardOutput = out
    process.standardError = errorHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        throw TestFailure("\(([path] + arguments).joined(separator: " ")) failed (\(process.terminationStatus))\(hint.isEmpty ? "" : "; " + hint):\n\(errors)")
    }
    return String(decoding: output, as: UTF8.self)
}

/// `runTool` from an async context: the child is waited for on a thread of its own, not on one of the
/// cooperative threads the in-process servers of other tests need.
@discardableResult
public func runTool(_ path: String, _ arguments: [String], hint: String = "") async throws -> String {
    try await offPool { try runTool(path, arguments, hint: hint) }
}

/// Runs `arguments` through `/usr/bin/env` to completion, standard output and error both into `outputPath`, on
/// a thread of its own (a browser run or a schemathesis run takes a minute), and returns the exit status and what
/// it wrote, whatever the status: the caller's expectations show the output of a failed run.
public func runToFile(
    _ arguments: [String], outputPath: String, directory: String? = nil, environment: [String: String] = [:]
) async throws -> (status: Int32, output: String) {
    try await offPool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}
