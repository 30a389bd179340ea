import ArgumentParser
import CloudConfig
import Foundation
import ImageConfig
import Support

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check configuration files.", subcommands: [ValidateCloudConfigCommand.self])
}

struct InjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject", abstract: "Write configuration into a finished image.", subcommands: [InjectCloudConfigCommand.self])
}

struct ValidateCloudConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud-config",
        abstract: "Validate a cloud-config as coreos-cloudinit -validate does.",
        discussion: """
        Prints one line per finding, `FILE:LINE: KIND: MESSAGE`, in document order; exits 1 when \
        there is at least one error. With --json, prints a JSON array of {"kind", "line", "message"}.
        """)

    @Argument(help: "The cloud-config file (#cloud-config, a #! script, or gzip of either).")
    var file: String

    @Flag(help: "Print the findings as a JSON array on stdout.")
    var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail(SupportError("\(file): cannot read the file"), json: json)
        }
        let report = Validator.validate([UInt8](data))
        if json {
            let entries = report.entries.map { JSONEntry(kind: $0.kind.rawValue, line: $0.line, message: $0.message) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(entries) + Data("\n".utf8))
        } else {
            for entry in report.entries { print("\(file):\(entry.line): \(entry.kind.rawValue): \(entry.message)") }
        }
        if report.hasErrors { throw ExitCode.failure }
    }

    struct JSONEntry: Encodable { let kind: String, line: Int, message: String }
}

struct InjectCloudConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud-config",
        abstract: "Validate a cloud-config and write it into an image's OEM partition.",
        discussion: """
        Works on raw and qcow2 images without mounting anything. The file becomes \
        /usr/share/oem/cloud-config.yml on the machine, applied at every boot; --ssh-key files are \
        added to its ssh_authorized_keys (for the core user). Injecting again replaces the earlier \
        config. An invalid config or key is refused and the image is left as it was. Example: \
        coresdk inject cloud-config coreos_production_image.bin cloud-config.yml --ssh-key ~/.ssh/id_ed25519.pub
        """)

    @Argument(help: "A raw (.bin) or qcow2 disk image built by coresdk.")
    var image: String

    @Argument(help: "The cloud-config file.")
    var file: String

    @Option(name: .customLong("ssh-key"), help: "An SSH public key file (repeatable).")
    var sshKeys: [String] = []

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    func run() throws {
        do {
            let injector = CloudConfigInjector(image: URL(fileURLWithPath: image),
                                               modificationTime: Int64(try BuildClock.fromEnvironment(fallback: Int(time(nil))).epoch))
            let result = try injector.inject(config: URL(fileURLWithPath: file),
                                             sshKeys: sshKeys.map { URL(fileURLWithPath: $0) })
            for warning in result.warnings { FileHandle.standardError.write(Data("\(file): \(warning)\n".utf8)) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                FileHandle.standardOutput.write(try encoder.encode(result) + Data("\n".utf8))
            } else {
                print("\(result.image): wrote \(result.path) (\(result.bytes) bytes, \(result.keysAdded) SSH key(s) added) into partition \(result.partition)")
            }
        } catch {
            throw fail(error, json: json)
        }
    }
}
