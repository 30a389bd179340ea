import Foundation
import Synchronization
import XCTest

/// Runs the real `coresdk` binary (the release build `make setup` produced) the way a user or a
/// CI pipeline does, in a scratch copy of the source tree so tests never touch the checkout.
struct CoreSDKRunner {
    struct Run {
        let status: Int32
        let standardOutput: String
        let standardError: String
        let seconds: Double
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The coresdk under test: `CORESDK_BINARY` (make builds it right before the tests), or else the
    /// release build of these sources, brought up to date first — never an older leftover binary.
    static let binary: URL = {
        if let given = ProcessInfo.processInfo.environment["CORESDK_BINARY"], !given.isEmpty {
            return URL(fileURLWithPath: given)
        }
        // A scratch path of its own: `swift test` holds .build's lock while the tests run.
        let scratch = packageRoot.appendingPathComponent(".build-e2e")
        let build = try? run(["swift", "build", "-c", "release", "--product", "coresdk", "--package-path", packageRoot.path,
                              "--scratch-path", scratch.path])
        precondition(build != nil, "swift build -c release --product coresdk failed")
        return scratch.appendingPathComponent("release/coresdk")
    }()

    /// The update key pair of the run's images: a user's board carries the public half in an overlay
    /// that puts it where update_engine looks, as every workspace's board does here.
    static let updateKey: (privateKey: URL, publicKey: URL) = {
        let keys = try! scratchDirectory("coresdk-e2e-update-key")
        let pair = (privateKey: keys.appendingPathComponent("update-key.pem"), publicKey: keys.appendingPathComponent("update-key.pub.pem"))
        _ = try! run([binary.path, "keys", "generate", "--private-key", pair.privateKey.path, "--public-key", pair.publicKey.path])
        return pair
    }()

    /// A scratch source tree: recipes, boards, overlays and VERSION copied from the checkout, the
    /// update key's overlay added to the default board, and a link to its Package.swift.
    static func makeWorkspace(_ name: String) throws -> URL {
        let workspace = try scratchDirectory("coresdk-e2e-\(name)")
        for item in ["recipes", "boards", "overlays", "VERSION"] {
            try run(["cp", "-a", packageRoot.appendingPathComponent(item).path, workspace.path])
        }
        let keyFolder = workspace.appendingPathComponent("overlays/update-key/usr/share/update_engine")
        try FileManager.default.createDirectory(at: keyFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: updateKey.publicKey, to: keyFolder.appendingPathComponent("update-payload-key.pub.pem"))
        let boardFile = workspace.appendingPathComponent("boards/amd64-usr.yaml")
        let board = try String(contentsOf: boardFile, encoding: .utf8)
        guard board.contains("overlays:\n  - base\n") else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: boardFile.path]) }
        try board.replacingOccurrences(of: "overlays:\n  - base\n", with: "overlays:\n  - base\n  - update-key\n")
            .write(to: boardFile, atomically: true, encoding: .utf8)
        // Recipes with swift-products build this checkout's package (its SwiftPM build is shared).
        try FileManager.default.createSymbolicLink(at: workspace.appendingPathComponent("Package.swift"),
                                                   withDestinationURL: packageRoot.appendingPathComponent("Package.swift"))
        return workspace
    }

    /// A fresh directory under the temporary directory, removed when the test process exits: built
    /// images are gigabytes, and shared fixtures must live as long as the run (a test may remove its
    /// own directory earlier).
    static func scratchDirectory(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        scratch.withLock { directories in
            if directories.isEmpty { atexit { CoreSDKRunner.removeScratchDirectories() } }
            directories.append(directory)
        }
        return directory
    }

    private static let scratch = Mutex<[URL]>([])

    private static func removeScratchDirectories() {
        for directory in scratch.withLock({ $0 }) { try? FileManager.default.removeItem(at: directory) }
    }

    static func coresdk(_ arguments: [String], in workspace: URL, epoch: Int = 1_700_000_000,
                        extraEnvironment: [String: String] = [:]) throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = String(epoch)
        for (key, value) in extraEnvironment { environment[key] = value }
        return try launch([binary.path] + arguments + ["--repo", workspace.path],
                          environment: environment, workingDirectory: workspace)
    }

    @discardableResult
    static func run(_ arguments: [String], workingDirectory: URL? = nil) throws -> Run {
        let result = try launch(arguments, environment: ProcessInfo.processInfo.environment,
                                workingDirectory: workingDirectory)
        guard result.status == 0 else {
            throw NSError(domain: "e2e", code: Int(result.status), userInfo: [
                NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")) failed (\(result.status)): \(result.standardError)"])
        }
        return result
    }

    /// Starts a process without waiting for it (for kill -9 tests).
    static func start(_ arguments: [String], in workspace: URL, epoch: Int = 1_700_000_000) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments + ["--repo", workspace.path]
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = String(epoch)
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func launch(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                       workingDirectory: URL? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var env = environment
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = env
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)")
        let outURL = scratch.appendingPathExtension("out"), errURL = scratch.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                   standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                   seconds: Date().timeIntervalSince(start))
    }
}
