import Foundation
import XCTest

/// Builds a fresh clone can trust: lock drift is a warning (or, with --locked, a refusal found
/// before installing), cache keys follow coresdk's code and the host tools, the plan prints
/// without building, and declared outputs are honoured. Builds share the fixture's cache.
final class TrustedBuildEndToEndTests: XCTestCase {
    static let version = ImageFixture.version

    func json(_ run: CoreSDKRunner.Run) throws -> [String: Any] {
        XCTAssertEqual(run.status, 0, run.standardError)
        return try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as! [String: Any]
    }

    /// A workspace whose lock pins `linux-image-cloud-amd64` to a version no mirror has.
    func workspaceWithImpossibleLock(_ name: String) throws -> (URL, URL) {
        let workspace = try CoreSDKRunner.makeWorkspace(name)
        let lock = workspace.appendingPathComponent("boards/amd64-usr.lock")
        let lines = try String(contentsOf: lock, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("linux-image-cloud-amd64=") ? "linux-image-cloud-amd64=0.0.1-1" : String($0) }
        try lines.joined(separator: "\n").write(to: lock, atomically: true, encoding: .utf8)
        return (workspace, lock)
    }

    func dryRun(_ workspace: URL, cache: URL, binary: URL? = nil, path: String? = nil) throws -> [String: Bool] {
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = "1700000000"
        if let path { environment["PATH"] = path }
        let run = try CoreSDKRunner.launch([(binary ?? CoreSDKRunner.binary).path, "build", "image", "--version", Self.version,
                                            "--cache-dir", cache.path, "--dry-run", "--json", "--repo", workspace.path],
                                           environment: environment, workingDirectory: workspace)
        let plan = try json(run)
        return Dictionary(uniqueKeysWithValues: (plan["stages"] as! [[String: Any]]).map {
            ($0["stage"] as! String, $0["cached"] as! Bool)
        })
    }

    func testLockedRefusesBeforeInstallingWhenTheMirrorNoLongerHasALockedVersion() throws {
        let build = try ImageFixture.coldBuild()
        let (workspace, lock) = try workspaceWithImpossibleLock("locked")
        let lockBefore = try Data(contentsOf: lock)
        let output = workspace.appendingPathComponent("out")
        let run = try CoreSDKRunner.coresdk(["build", "image", "--version", Self.version, "--locked", "--output", output.path,
                                             "--cache-dir", build.cache.path, "--json"], in: workspace)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.standardError.contains("--locked, but the Debian mirror no longer has these locked versions"), run.standardError)
        XCTAssertTrue(run.standardError.contains("linux-image-cloud-amd64: locked 0.0.1-1, mirror has 6."), run.standardError)
        XCTAssertFalse(run.standardError.contains("[1/"), "the Debian stage must not start: \(run.standardError)")
        XCTAssertEqual(try Data(contentsOf: lock), lockBefore, "--locked never rewrites the lock")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    func testDriftIsAWarningRecordedInTheReportAndTheLockIsRewritten() throws {
        let build = try ImageFixture.coldBuild()
        let (workspace, lock) = try workspaceWithImpossibleLock("drift")
        let output = workspace.appendingPathComponent("out")
        let run = try CoreSDKRunner.coresdk(["build", "image", "--version", Self.version, "--output", output.path,
                                             "--cache-dir", build.cache.path, "--json"], in: workspace)
        let report = try json(run)
        XCTAssertTrue(run.standardError.contains("warning: the mirror no longer has 1 locked Debian version(s)"), run.standardError)
        XCTAssertTrue(run.standardError.contains("linux-image-cloud-amd64: 0.0.1-1 → 6."), run.standardError)
        let drift = report["debianLockDrift"] as! [[String: String]]
        XCTAssertEqual(drift.map { $0["name"] }, ["linux-image-cloud-amd64"])
        XCTAssertEqual(drift.first?["locked"], "0.0.1-1")
        let installed = drift.first!["installed"]!
        let packages = try String(contentsOf: output.appendingPathComponent("amd64-usr/\(Self.version)/coreos_production_image_packages.txt"),
                                  encoding: .utf8)
        XCTAssertTrue(packages.contains("debian linux-image-cloud-amd64 \(installed) (locked 0.0.1-1 not in the mirror)\n"), packages)
        XCTAssertTrue(try String(contentsOf: lock, encoding: .utf8).contains("\nlinux-image-cloud-amd64=\(installed)\n"))
        // The entry is stored under what was installed: a --locked rebuild now hits it, mirror or not.
        let environment = ["http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"]
        let again = try json(try CoreSDKRunner.coresdk(["build", "image", "--version", Self.version, "--locked", "--output", output.path,
                                                        "--cache-dir", build.cache.path, "--json"], in: workspace,
                                                       extraEnvironment: environment))
        XCTAssertTrue((again["cache"] as! [String: [String]])["hits"]!.contains("debian"))
        XCTAssertEqual((again["debianLockDrift"] as! [Any]).count, 0)
    }

    func testSnapshotMirrorSettingIsWhatAptAsks() throws {
        let workspace = try CoreSDKRunner.makeWorkspace("snapshot")
        let logFile = workspace.appendingPathComponent("mirror.log")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory", workspace.path]
        server.standardError = try FileHandle(forWritingTo: { FileManager.default.createFile(atPath: logFile.path, contents: nil); return logFile }())
        let portFile = workspace.appendingPathComponent("port")
        FileManager.default.createFile(atPath: portFile.path, contents: nil)
        server.standardOutput = try FileHandle(forWritingTo: portFile)
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
            let text = (try? String(contentsOf: portFile, encoding: .utf8)) ?? ""
            port = text.range(of: " port ").map { String(text[$0.upperBound...].prefix(while: \.isNumber)) } ?? ""
        }
        XCTAssertFalse(port.isEmpty, "python3 -m http.server did not start")
        let line = "deb [check-valid-until=no] http://127.0.0.1:\(port)/archive/debian/20261201T000000Z bookworm main"
        // Set in the board file; the plan shows it.
        let boardFile = workspace.appendingPathComponent("boards/amd64-usr.yaml")
        try (try String(contentsOf: boardFile, encoding: .utf8) + "apt-sources:\n  - \"\(line)\"\n")
            .write(to: boardFile, atomically: true, encoding: .utf8)
        let plan = try json(try CoreSDKRunner.coresdk(["build", "image", "--dry-run", "--json"], in: workspace))
        XCTAssertEqual(plan["aptSources"] as? String, line + "\n")
        // The locked check asks that mirror, and its failure says what it was reading.
        let run = try CoreSDKRunner.coresdk(["build", "image", "--locked", "--output", workspace.appendingPathComponent("out").path,
                                             "--cache-dir", workspace.appendingPathComponent("cache").path], in: workspace)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.standardError.contains("reading the Debian mirror's package index failed"), run.standardError)
        let requests = try String(contentsOf: logFile, encoding: .utf8)
        XCTAssertTrue(requests.contains("GET /archive/debian/20261201T000000Z/dists/bookworm/"), requests)
    }

    func testDryRunPrintsThePlanAndItsKeysFollowTheCodeAndTheTools() throws {
        let build = try ImageFixture.coldBuild()
        let workspace = build.workspace
        let run = try CoreSDKRunner.coresdk(["build", "image", "--version", Self.version, "--cache-dir", build.cache.path,
                                             "--dry-run", "--json"], in: workspace)
        let plan = try json(run)
        XCTAssertEqual((plan["partitions"] as! [[String: Any]]).map { $0["label"] as! String },
                       ["EFI-SYSTEM", "BIOS-BOOT", "USR-A", "USR-B", "OEM", "OEM-CONFIG", "ROOT"])
        XCTAssertTrue((plan["recipes"] as! [[String: Any]]).contains { $0["name"] as? String == "coreos-cloudinit" && $0["kind"] as? String == "source" })
        XCTAssertTrue((plan["outputs"] as! [String]).contains("coreos_production_qemu_image.img"))
        XCTAssertTrue((plan["tools"] as! [[String: Any]]).contains { $0["name"] as? String == "mksquashfs" && ($0["version"] as? String ?? "").contains("4.") })
        XCTAssertEqual(Set(try dryRun(workspace, cache: build.cache).values), [true], "the fixture's build left every stage cached")

        // Other code: the same coresdk with one byte more is another producer; nothing is reused.
        let changed = workspace.appendingPathComponent("coresdk-changed")
        try CoreSDKRunner.run(["cp", CoreSDKRunner.binary.path, changed.path])
        let handle = try FileHandle(forWritingTo: changed)
        handle.seekToEndOfFile()
        handle.write(Data([0]))
        try handle.close()
        XCTAssertEqual(Set(try dryRun(workspace, cache: build.cache, binary: changed).values), [false])

        // Another mke2fs (a wrapper in front of PATH): only the stages that run it miss.
        let shims = workspace.appendingPathComponent("shims")
        try FileManager.default.createDirectory(at: shims, withIntermediateDirectories: true)
        let mke2fs = shims.appendingPathComponent("mke2fs")
        try "#!/bin/sh\nexec /sbin/mke2fs \"$@\"\n".write(to: mke2fs, atomically: true, encoding: .utf8)
        chmod(mke2fs.path, 0o755)
        let stages = try dryRun(workspace, cache: build.cache,
                                path: shims.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"))
        XCTAssertEqual(stages["debian"], true)
        XCTAssertEqual(stages["component:coreos-boot"], true)
        XCTAssertEqual(stages["filesystems"], false)
        XCTAssertEqual(stages["disk"], false)
    }

    func testARawOnlyBoardWritesNoQcow2() throws {
        let build = try ImageFixture.coldBuild()
        let workspace = try CoreSDKRunner.makeWorkspace("rawonly")
        let boardFile = workspace.appendingPathComponent("boards/amd64-usr.yaml")
        try (try String(contentsOf: boardFile, encoding: .utf8)).replacingOccurrences(of: "outputs: [raw, qcow2]", with: "outputs: [raw]")
            .write(to: boardFile, atomically: true, encoding: .utf8)
        let output = workspace.appendingPathComponent("out")
        let report = try json(try CoreSDKRunner.coresdk(["build", "image", "--version", Self.version, "--output", output.path,
                                                         "--cache-dir", build.cache.path, "--json"], in: workspace))
        let directory = output.appendingPathComponent("amd64-usr/\(Self.version)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("coreos_production_qemu_image.img").path))
        XCTAssertFalse((report["files"] as! [[String: Any]]).contains { $0["role"] as? String == "qcow2-disk" })
        // The board's text is an input, so this disk has its own UUIDs; its report names its digest.
        let raw = (report["files"] as! [[String: Any]]).first { $0["role"] as? String == "raw-disk" }
        XCTAssertEqual(raw?["sha256"] as? String, String(try CoreSDKRunner.run(
            ["sha256sum", directory.appendingPathComponent("coreos_production_image.bin").path]).standardOutput.prefix(64)))
        let script = try String(contentsOf: directory.appendingPathComponent("coreos_production_qemu.sh"), encoding: .utf8)
        XCTAssertTrue(script.contains("/coreos_production_image.bin\""), "the launcher boots the raw disk")
    }
}
