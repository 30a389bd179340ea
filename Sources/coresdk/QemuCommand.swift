import ArgumentParser
import Boot
import Foundation

struct QemuCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu",
        abstract: "Boot an image under QEMU with UEFI firmware (OVMF).",
        discussion: """
        Uses KVM when /dev/kvm is usable, TCG otherwise. The guest's SSH port is forwarded to \
        127.0.0.1:<ssh-port>. Arguments after `--` go to QEMU unchanged. Example: \
        coresdk qemu out/amd64-usr/1.0.0/coreos_production_qemu_image.img --snapshot --ssh-port 2222
        """)

    @Argument(help: "A raw (.bin) or qcow2 disk image.")
    var image: String

    @Flag(help: "Write to a throw-away overlay; the image is not changed.")
    var snapshot = false

    @Option(help: "Host port on 127.0.0.1 forwarded to the guest's SSH port.")
    var sshPort: Int = 2222

    @Option(help: "Write the serial console to this file instead of stdio.")
    var serialLog: String?

    @Option(help: "Guest memory in MiB.")
    var memory: Int = 1024

    @Option(help: "Guest CPUs.")
    var cpus: Int = 2

    enum Accelerator: String, ExpressibleByArgument, CaseIterable { case auto, kvm, tcg }

    @Option(help: "QEMU accelerator: auto (KVM when usable, else TCG), kvm or tcg.")
    var accel: Accelerator = .auto

    @Option(name: .customLong("link"), help: ArgumentHelp(
        "A second NIC linked to other machines on this host: listen:PORT (the first machine) or connect:PORT (the others). Repeat it to link one machine to several; they share one network.",
        valueName: "listen:PORT|connect:PORT"), transform: QemuMachine.Link.init(parsing:))
    var links: [QemuMachine.Link] = []

    @Option(help: "The second NIC's MAC address (default: 52:54:00:c0 and the SSH port's two bytes).")
    var linkMac: String?

    @Flag(help: "Print the QEMU command line instead of running it.")
    var dryRun = false

    @Argument(parsing: .postTerminator, help: "Extra QEMU arguments (after --).")
    var qemuArguments: [String] = []

    func validate() throws {
        guard (1...65535).contains(sshPort) else { throw ValidationError("--ssh-port must be 1-65535, got \(sshPort)") }
        guard memory >= 256 else { throw ValidationError("--memory must be at least 256 MiB, got \(memory)") }
        guard cpus >= 1 else { throw ValidationError("--cpus must be at least 1, got \(cpus)") }
        if let linkMac, !QemuMachine.isMAC(linkMac) {
            throw ValidationError("--link-mac: '\(linkMac)' is not a MAC address like 52:54:00:12:34:56")
        }
    }

    func run() throws {
        var machine = QemuMachine(image: URL(fileURLWithPath: image).standardizedFileURL)
        machine.snapshot = snapshot
        machine.sshPort = sshPort
        machine.serialLog = serialLog.map { URL(fileURLWithPath: $0).standardizedFileURL }
        machine.memoryMiB = memory
        machine.cpus = cpus
        machine.links = links
        machine.linkMAC = linkMac
        machine.extraArguments = qemuArguments
        if accel != .auto { machine.useKVM = accel == .kvm }
        do {
            if dryRun {
                print(try machine.arguments(variables: URL(fileURLWithPath: QemuMachine.firmwareVariables))
                    .joined(separator: "\n"))
                return
            }
            let status = try machine.run()
            if status != 0 { throw ExitCode(status) }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail(error, json: false)
        }
    }
}
