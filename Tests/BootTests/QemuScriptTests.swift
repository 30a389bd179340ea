import Foundation
import XCTest
import Support
@testable import Boot

/// `coresdk qemu` (QemuInvocation, then QemuMachine.arguments) and the generated
/// `<prefix>_production_qemu.sh` are two renderings of one machine description. These run the
/// script under bash and hold it to the Swift side word for word, so a change to either alone fails.
final class QemuScriptTests: XCTestCase {
    private var directory: URL!
    /// The script's own image (it sits next to it): qcow2, by its magic alone.
    private var qcow2: URL!
    private var raw: URL!
    private var script: URL!
    /// The script's TMPDIR, where it keeps its copy of the firmware's variable store.
    private var scratch: URL!
    private let variables = URL(fileURLWithPath: "/run/OVMF_VARS.fd")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qemu-script-\(UUID().uuidString)")
        scratch = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        qcow2 = directory.appendingPathComponent("coreos_production_qemu_image.img")
        try Data([0x51, 0x46, 0x49, 0xFB] + [UInt8](repeating: 0, count: 508)).write(to: qcow2)
        raw = directory.appendingPathComponent("coreos_production_image.bin")
        try Data(count: 4096).write(to: raw)
        script = directory.appendingPathComponent("coreos_production_qemu.sh")
        try Data(QemuScript.text(imageName: qcow2.lastPathComponent).utf8).write(to: script)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private struct Outcome: Equatable {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    private func bash(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch.path]) { $1 }
        // Relative paths are made absolute against the working directory on both sides.
        process.currentDirectoryURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complained = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, standardOutput: String(decoding: printed, as: UTF8.self),
                       standardError: String(decoding: complained, as: UTF8.self))
    }

    /// The script's --dry-run command line, its temporary variable store (the one thing the two
    /// sides differ in) replaced by `variables`.
    private func scriptCommand(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let outcome = try bash(arguments)
        XCTAssertEqual(outcome.status, 0, outcome.standardError, file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), [],
                       "the script removes its variable store", file: file, line: line)
        let temporary = try NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: scratch.path) + "/tmp\\.[A-Za-z0-9]+\\.fd")
        return outcome.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { word in
            temporary.stringByReplacingMatches(in: String(word), range: NSRange(word.startIndex..., in: word),
                                               withTemplate: NSRegularExpression.escapedTemplate(for: variables.path))
        }
    }

    /// What `coresdk qemu IMAGE ARGUMENTS` runs.
    private func coresdkCommand(_ image: URL, _ arguments: [String]) throws -> [String] {
        let invocation = try QemuInvocation(parsing: [image.path] + arguments)
        XCTAssertTrue(invocation.dryRun)
        return try invocation.machine.arguments(variables: variables)
    }

    private func usageError(_ arguments: [String]) -> QemuUsageError? {
        do {
            _ = try QemuInvocation(parsing: arguments)
            return nil
        } catch {
            return error
        }
    }

    func testEveryOptionMakesTheSameCommandLineInBashAndSwift() throws {
        let cases: [[String]] = [
            [],
            ["--snapshot"],
            ["--ssh-port", "2345"],
            ["--ssh-port=022"],
            ["--serial-log", "/tmp/serial.log"],
            ["--serial-log=logs/./old/../serial.log"],
            ["--memory", "2048"],
            ["--memory", "256"],
            ["--cpus", "1"],
            ["--cpus", "04"],
            ["--accel", "kvm"],
            ["--accel", "tcg"],
            ["--accel=auto"],
            ["--link", "listen:5000"],
            ["--link", "connect:5000"],
            ["--link", "connect:127.0.0.2:5001"],
            ["--link", "listen:0.0.0.0:5000", "--link", "connect:5001", "--link=connect:10.0.0.7:05002"],
            ["--link", "listen:5000", "--link-mac", "52:54:00:AB:cd:01"],
            ["--ssh-port", "2202", "--link", "connect:5555"],
            ["--link-mac", "52:54:00:00:01:01"],
            ["--", "-smbios", "type=1", "--snapshot"],
            ["--"],
            ["--snapshot", "--ssh-port", "2201", "--serial-log", "/tmp/coreos1.log", "--memory", "1536", "--cpus", "3",
             "--accel", "tcg", "--link", "listen:5555", "--link", "connect:127.0.0.1:5556",
             "--link-mac", "52:54:00:00:01:01", "--", "-smbios", "type=1,serial=coreos1"],
        ]
        for options in cases {
            let withDryRun = ["--dry-run"] + options
            let qcow2Command = try coresdkCommand(qcow2, withDryRun)
            XCTAssertEqual(try scriptCommand(withDryRun), qcow2Command, "\(options)")
            XCTAssertTrue(qcow2Command.contains("if=none,id=disk0,format=qcow2,file=\(qcow2.path)"
                                                + (options.prefix { $0 != "--" }.contains("--snapshot") ? ",snapshot=on" : "")), "\(qcow2Command)")
            let rawCommand = try coresdkCommand(raw, withDryRun)
            XCTAssertEqual(try scriptCommand(["--image", raw.path] + withDryRun), rawCommand, "\(options) on a raw image")
            XCTAssertTrue(rawCommand.contains { $0.hasPrefix("if=none,id=disk0,format=raw,file=\(raw.path)") }, "\(rawCommand)")
        }
    }

    func testTheCommandLineIsQemusWordForWord() throws {
        let arguments = try coresdkCommand(qcow2, ["--dry-run", "--accel", "tcg", "--ssh-port", "2202", "--serial-log", "/tmp/s.log",
                                                   "--link", "listen:5555", "--link", "connect:10.0.0.7:5556", "--", "-smbios", "type=1"])
        XCTAssertEqual(arguments, [
            "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
            "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
            "-drive", "if=pflash,format=raw,unit=1,file=/run/OVMF_VARS.fd",
            "-drive", "if=none,id=disk0,format=qcow2,file=\(qcow2.path)", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
            "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:2202-:22", "-device", "virtio-net-pci,netdev=net0",
            "-vga", "std", "-display", "none", "-serial", "file:/tmp/s.log",
            "-netdev", "hubport,id=link,hubid=1", "-device", "virtio-net-pci,netdev=link,mac=52:54:00:c0:08:9a",
            "-netdev", "socket,id=link0,listen=127.0.0.1:5555", "-netdev", "hubport,id=linkport0,hubid=1,netdev=link0",
            "-netdev", "socket,id=link1,connect=10.0.0.7:5556", "-netdev", "hubport,id=linkport1,hubid=1,netdev=link1",
            "-smbios", "type=1",
        ])
    }

    func testBadInputIsRejectedByBothWithExit64AndTheSameWords() throws {
        let cases: [[String]] = [
            ["--ssh-port", "0"], ["--ssh-port", "65536"], ["--ssh-port", "22a"], ["--ssh-port"],
            ["--ssh-port", "--snapshot"], ["--ssh-port="],
            ["--memory", "255"], ["--memory", "99999999999999999999"], ["--memory", "1e3"],
            ["--cpus", "0"], ["--cpus", "-1"], ["--cpus", "+2"],
            ["--accel", "hvf"], ["--accel", "KVM"],
            ["--serial-log"],
            ["--link", "listen"], ["--link", "serve:5000"], ["--link", "connect:0"], ["--link", "connect::5000"],
            ["--link", "listen:70000"], ["--link", "connect:a:b:5000"], ["--link", "connect:5000\n"],
            ["--link", "connect:127.0.0.1,script=/tmp/x:5000"],
            ["--link-mac", "52:54:00:ab:cd"], ["--link-mac", "52:54:00:ab:cd:0g"], ["--link-mac", "52:54:00:ab:cd:01:"],
            ["--snapshot=yes"], ["--dry-run=1"], ["--bogus"], ["--bogus=1"], ["-x"], ["--=5"], ["stray"],
        ]
        for options in cases {
            let swift = try XCTUnwrap(usageError([qcow2.path, "--dry-run"] + options), "coresdk takes \(options)")
            XCTAssertEqual(try bash(["--dry-run"] + options), Outcome(status: 64, standardOutput: "", standardError: swift.message + "\n"),
                           "\(options)")
        }
    }

    func testAMissingImageIsReportedAlikeWithExit1() throws {
        let missing = directory.appendingPathComponent("missing.img")
        XCTAssertThrowsError(try coresdkCommand(missing, ["--dry-run"])) { error in
            XCTAssertEqual(try? bash(["--image", missing.path, "--dry-run"]),
                           Outcome(status: 1, standardOutput: "", standardError: "\(error)\n"))
        }
    }

    func testEachLauncherHasItsOwnWayToTheImage() throws {
        XCTAssertEqual(usageError(["--dry-run"])?.message, "missing IMAGE (see --help)")
        XCTAssertEqual(usageError([qcow2.path, raw.path])?.message, "unexpected argument \(raw.path) (see --help)")
        XCTAssertEqual(usageError([qcow2.path, "--image", raw.path])?.message, "unknown option --image (see --help)")
        XCTAssertEqual(try bash(["--json"]).standardError, "unknown option --json (see --help)\n")
        XCTAssertTrue(try QemuInvocation(parsing: ["--help"]).showHelp)
    }

    func testHelpListsEveryOptionWithItsDefault() throws {
        for flag in ["-h", "--help"] {
            var outcome = try bash([flag])
            outcome.standardOutput = outcome.standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertEqual(outcome.status, 0)
            XCTAssertTrue(outcome.standardOutput.hasPrefix("Usage: coreos_production_qemu.sh [--image FILE] [--snapshot]"),
                          outcome.standardOutput)
            for option in QemuOption.all where option.launchers.contains(.script) {
                XCTAssertTrue(outcome.standardOutput.contains(" \(option.flag) "), "\(option.flag) in \(outcome.standardOutput)")
            }
            XCTAssertTrue(outcome.standardOutput.contains("SSH port (1-65535, default 2222)."), outcome.standardOutput)
            XCTAssertTrue(outcome.standardOutput.contains("Guest memory in MiB (at least 256 MiB, default 1024)."), outcome.standardOutput)
            XCTAssertTrue(outcome.standardOutput.contains("next to this script)."), outcome.standardOutput)
        }
    }

    func testTheScriptIsValidBashAndPassesShellcheck() throws {
        try Command.run(["bash", "-n", script.path])
        guard Command.exists("shellcheck") else { throw XCTSkip("shellcheck is not installed") }
        try Command.run(["shellcheck", script.path])
    }
}
