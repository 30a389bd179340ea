import Foundation
import XCTest

/// What CI pipelines rely on from every command: `--json`, one error form with the place at fault,
/// and the documented exit statuses (README, "Exit status and errors").
final class CommandLineEndToEndTests: XCTestCase {
    private func coresdk(_ arguments: [String]) throws -> CoreSDKRunner.Run {
        try CoreSDKRunner.launch([CoreSDKRunner.binary.path] + arguments)
    }

    /// The leaf commands `--help` lists, found by walking the SUBCOMMANDS sections from the top:
    /// each entry is a name indented by two spaces (its description may wrap onto deeper lines).
    private func leafCommands(_ path: [String] = []) throws -> [[String]] {
        let help = try coresdk(path + ["--help"]).standardOutput
        guard path.count < 4, let section = help.components(separatedBy: "SUBCOMMANDS:\n").dropFirst().first else { return [path] }
        let names = section.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }
            .compactMap { line in line.firstMatch(of: /^  ([a-z][a-z-]*)( |$)/).map { String($0.1) } }
            .filter { $0 != "help" }
        XCTAssertFalse(names.isEmpty, "coresdk \(path.joined(separator: " ")) --help lists no subcommands:\n\(help)")
        return try names.flatMap { try leafCommands(path + [$0]) }
    }

    /// The `{"error": {...}}` object a failed `--json` run prints, and nothing else on stdout.
    private func errorObject(_ run: CoreSDKRunner.Run, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
        let error = try XCTUnwrap(object?["error"] as? [String: Any], "stdout: \(run.standardOutput)", file: file, line: line)
        XCTAssertEqual(object?.count, 1, file: file, line: line)
        XCTAssertFalse((error["message"] as? String ?? "").isEmpty, "a message is always there", file: file, line: line)
        return error
    }

    func testEveryCommandTakesJSON() throws {
        let commands = try leafCommands()
        XCTAssertTrue(commands.contains(["payload", "hash"]) && commands.contains(["qemu"]), "\(commands)")
        for command in commands {
            let help = try coresdk(command + ["--help"]).standardOutput
            XCTAssertTrue(help.contains("--json"), "coresdk \(command.joined(separator: " ")) has no --json:\n\(help)")
        }
    }

    func testFailuresCarryTheFileLineAndColumn() throws {
        let workspace = try CoreSDKRunner.makeWorkspace("errors")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let recipe = workspace.appendingPathComponent("recipes/etcd.yaml")
        try (try String(contentsOf: recipe, encoding: .utf8) + "no-such-key: 1\n").write(to: recipe, atomically: true, encoding: .utf8)
        let lines = try String(contentsOf: recipe, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count - 1

        let build = try CoreSDKRunner.coresdk(["build", "image", "--dry-run", "--json"], in: workspace)
        XCTAssertEqual(build.status, 1, build.standardError)
        let error = try errorObject(build)
        XCTAssertEqual(error["file"] as? String, "recipes/etcd.yaml")
        XCTAssertEqual(error["line"] as? Int, lines)
        XCTAssertEqual(error["column"] as? Int, 1)
        let message = try XCTUnwrap(error["message"] as? String)
        XCTAssertTrue(message.contains("no-such-key"), message)
        XCTAssertEqual(build.standardError, "coresdk: error: recipes/etcd.yaml:\(lines):1: \(message)\n",
                       "the text form is the same details")
    }

    func testAnImageOrPayloadAtFaultIsNamed() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let notAPayload = scratch.appendingPathComponent("update.gz")
        try Data("not a payload".utf8).write(to: notAPayload)
        let notAnImage = scratch.appendingPathComponent("disk.bin")
        try Data(count: 4096).write(to: notAnImage)
        let keys = try coresdk(["keys", "generate", "--private-key", scratch.appendingPathComponent("k.pem").path,
                                "--public-key", scratch.appendingPathComponent("k.pub").path, "--json"])
        XCTAssertEqual(keys.status, 0, keys.standardError)
        let generated = try JSONSerialization.jsonObject(with: Data(keys.standardOutput.utf8)) as? [String: String]
        XCTAssertEqual(generated?["publicKey"], scratch.appendingPathComponent("k.pub").path)

        for arguments in [["payload", "hash", notAPayload.path],
                          ["payload", "verify", notAPayload.path, "--public-key", scratch.appendingPathComponent("k.pub").path],
                          ["payload", "insert-signature", notAPayload.path, "--signature", scratch.appendingPathComponent("k.pub").path]] {
            let run = try coresdk(arguments + ["--json"])
            XCTAssertEqual(run.status, 1, "\(arguments): \(run.standardError)")
            XCTAssertEqual(try errorObject(run)["file"] as? String, notAPayload.path, "\(arguments)")
        }
        for arguments in [["payload", "apply", notAnImage.path, notAPayload.path, "--public-key", scratch.appendingPathComponent("k.pub").path],
                          ["inject", "cloud-config", notAnImage.path, "/dev/null"]] {
            let run = try coresdk(arguments + ["--json"])
            XCTAssertEqual(run.status, 1, "\(arguments): \(run.standardError)")
            XCTAssertNotNil(try errorObject(run)["file"] as? String, "\(arguments): \(run.standardOutput)")
        }
    }

    func testUsageErrorsExit64AndStillAnswerInJSON() throws {
        let run = try coresdk(["payload", "verify", "x", "--json"])
        XCTAssertEqual(run.status, 64)
        XCTAssertEqual(try errorObject(run)["message"] as? String, "give the --public-key the payload must verify with")
        XCTAssertTrue(run.standardError.contains("Usage: coresdk payload verify"), run.standardError)
        let unknown = try coresdk(["build", "image", "--no-such-flag", "--json"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue((try errorObject(unknown)["message"] as? String ?? "").contains("--no-such-flag"))
        let plain = try coresdk(["payload", "verify", "x"])
        XCTAssertEqual(plain.standardOutput, "", "without --json stdout stays empty")
    }
}
