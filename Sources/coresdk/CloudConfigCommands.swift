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
        there is at least one error. With --json, prints a JSON array of {"file", "line", "kind", "message"}.
        """)

    @Argument(help: "The cloud-config file (#cloud-config, a #! script, or gzip of either).")
    var file: String

    @OptionGroup var format: OutputOptions

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SupportError(file: file, "cannot read the file")
        }
        let report = Validator.validate([UInt8](data))
        if format.json {
            try OutputOptions.printJSON(report.entries.map { Finding(file: file, line: $0.line, kind: $0.kind.rawValue, message: $0.message) })
        } else {
            for entry in report.entries { print("\(file):\(entry.line): \(entry.kind.rawValue): \(entry.message)") }
        }
        if report.hasErrors { throw ExitCode.failure }
    }

    struct Finding: Encodable { let file: String, line: Int, kind: String, message: String }
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

    @OptionGroup var format: OutputOptions

    func run() throws {
        let injector = CloudConfigInjector(image: URL(fileURLWithPath: image),
                                           modificationTime: Int64(try BuildClock.fromEnvironment(fallback: Int(time(nil))).epoch))
        let result = try injector.inject(config: URL(fileURLWithPath: file),
                                         sshKeys: sshKeys.map { URL(fileURLWithPath: $0) })
        for warning in result.warnings { FileHandle.standardError.write(Data("\(file): \(warning)\n".utf8)) }
        try format.print(result, text: "\(result.image): wrote \(result.path) (\(result.bytes) bytes, \(result.keysAdded) SSH key(s) added) into partition \(result.partition)")
    }
}
