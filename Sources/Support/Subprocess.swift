import Foundation

/// A failed external command, with what it printed so the user sees the tool's own reason.
public struct CommandFailure: Error {
    public let command: [String]
    public let status: Int32
    public let standardError: String

    var summary: String {
        let tail = standardError.split(separator: "\n").suffix(15).joined(separator: "\n")
        return "\(command.joined(separator: " ")) exited with status \(status)"
            + (tail.isEmpty ? "" : ":\n\(tail)")
    }
}

/// Runs external tools (mke2fs, qemu-img, mmdebstrap, ...) without a shell.
public enum Command {
    public struct Output: Sendable {
        public let standardOutput: Data
        public let standardError: String
        public var text: String { String(decoding: standardOutput, as: UTF8.self) }
    }

    /// Runs `arguments[0]` (looked up in PATH) and returns its output; throws `CommandFailure` on a
    /// non-zero exit. Standard error is captured, or passed through when `passthroughStandardError`.
    /// `environment` adds to the inherited environment; `unsetting` removes variables from it.
    @discardableResult
    public static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        unsetting: [String] = [],
        workingDirectory: URL? = nil,
        standardInput: FileHandle? = nil,
        passthroughStandardError: Bool = false
    ) throws -> Output {
        precondition(!arguments.isEmpty)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        for key in unsetting { env[key] = nil }
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = env
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = standardInput ?? FileHandle.nullDevice

        // Files rather than pipes: tools like mmdebstrap print megabytes and would block on a full pipe.
        let outURL = temporaryCaptureURL("out"), errURL = temporaryCaptureURL("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardOutput = outHandle
        process.standardError = passthroughStandardError ? FileHandle.standardError : errHandle
        do {
            try process.run()
        } catch {
            throw CommandFailure(command: arguments, status: 127,
                                 standardError: "cannot start \(arguments[0]): \(error)")
        }
        process.waitUntilExit()
        try? outHandle.close()
        try? errHandle.close()
        let output = Output(standardOutput: (try? Data(contentsOf: outURL)) ?? Data(),
                            standardError: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(),
                                                  as: UTF8.self))
        guard process.terminationStatus == 0, process.terminationReason == .exit else {
            throw CommandFailure(command: arguments, status: process.terminationStatus,
                                 standardError: output.standardError + output.text.suffix(2000))
        }
        return output
    }

    /// True when `tool` is found in PATH (plus the sbin directories).
    public static func exists(_ tool: String) -> Bool { locate(tool) != nil }

    /// The executable `tool` names, searched in PATH and then the sbin directories.
    public static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func temporaryCaptureURL(_ kind: String) -> URL {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("coresdk-\(kind)-\(UUID().uuidString)")
    }
}
