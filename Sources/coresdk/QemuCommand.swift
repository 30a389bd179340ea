import ArgumentParser
import Boot
import Foundation

/// Its options are the machine's (`QemuOption.all`), parsed by `QemuInvocation` exactly as the
/// generated `<prefix>_production_qemu.sh` parses them; ArgumentParser only hands them over.
struct QemuCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu",
        abstract: "Boot an image under QEMU with UEFI firmware (OVMF).",
        usage: "coresdk qemu \(QemuOption.synopsis(for: .coresdk))",
        discussion: """
        Uses KVM when /dev/kvm is usable, TCG otherwise. The guest's SSH port is forwarded to \
        127.0.0.1:<ssh-port>. Arguments after `--` go to QEMU unchanged. Example: \
        coresdk qemu out/amd64-usr/1.0.0/coreos_production_qemu_image.img --snapshot --ssh-port 2222

        \(QemuOption.optionsHelp(for: .coresdk))
        """,
        helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "IMAGE (a raw .bin or a qcow2 disk image) and the options above.")
    var arguments: [String] = []

    /// Here rather than in run(), so that ArgumentParser reports a mistake with this command's usage.
    func validate() throws {
        do {
            _ = try QemuInvocation(parsing: arguments)
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let invocation = try QemuInvocation(parsing: arguments)
        if invocation.showHelp {
            print("Usage: coresdk qemu \(QemuOption.synopsis(for: .coresdk))\n\n\(QemuOption.optionsHelp(for: .coresdk))")
            return
        }
        if invocation.dryRun {
            let command = try invocation.machine.arguments(variables: URL(fileURLWithPath: QemuMachine.firmwareVariables))
            if invocation.json {
                try OutputOptions.printJSON(["command": command])
            } else {
                print(command.joined(separator: "\n"))
            }
            return
        }
        let status = try invocation.machine.run()
        if status != 0 { throw ExitCode(status) }
    }
}
