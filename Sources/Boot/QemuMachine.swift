import Disk
import Foundation
import Support

/// How `coresdk qemu` (and the `<prefix>_production_qemu.sh` written next to each image) starts an
/// image, as CoreOS's qemu script did: UEFI firmware, KVM when usable (else TCG), a virtio disk,
/// user networking with SSH forwarded on 127.0.0.1, the serial console on stdio or in a file.
///
/// The machine is described once, below: its settings (the properties, whose initial values are
/// the defaults), the options that set them (`QemuOption.all`) and the command line they make
/// (`commandLine`). `arguments(variables:)` renders that command line in Swift, `QemuScript` the
/// same one, with the same option parsing, in bash. Adding an option is a property, an entry in
/// `QemuOption.all` and, if QEMU sees it, words in `commandLine`.
public struct QemuMachine: Sendable {
    /// Debian's `ovmf` package: read-only code, and a variable store each run gets a copy of.
    public static let firmwareCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    public static let firmwareVariables = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    public static let ports = 1...65535

    public var image: URL
    /// Writes go to a throw-away overlay; the image stays as it was.
    public var snapshot = false
    /// Host port on 127.0.0.1 forwarded to the guest's SSH port.
    public var sshPort = 2222
    /// The serial console goes here instead of stdio.
    public var serialLog: URL?
    public var memoryMiB = 1024
    public var cpus = 2
    public var accelerator = Accelerator.auto
    /// Sockets to other machines (QEMU's `-netdev socket`), all joined to one second NIC through a
    /// QEMU hub: machines booted on one host share a private network, as the article's second NIC.
    public var links: [Link] = []
    /// The second NIC's MAC address; by default one made from the SSH port, so machines started
    /// side by side (each with its own port) differ.
    public var linkMAC: String?
    public var extraArguments: [String] = []

    public init(image: URL) { self.image = image }

    /// QEMU's command line. Facts are what the machine works out (the accelerator `auto` resolves
    /// to, the image's format, ...); option values are the settings as `QemuOption` shows them.
    static let commandLine: [QemuCommandLine.Section] = [
        .always([
            "qemu-system-x86_64", "-machine", "q35",
            "-accel", .fact(.accelerator), "-cpu", .fact(.cpuModel),
            "-m", .value(.memory), "-smp", .value(.cpus),
            "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(firmwareCode)",
            "-drive", .init("if=pflash,format=raw,unit=1,file=", .fact(.firmwareVariables)),
            "-drive", .init("if=none,id=disk0,format=", .fact(.imageFormat), ",file=", .value(.image),
                            .ifSet(.snapshot, ",snapshot=on")),
            "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
            "-netdev", .init("user,id=net0,hostfwd=tcp:127.0.0.1:", .value(.sshPort), "-:22"),
            "-device", "virtio-net-pci,netdev=net0",
            "-vga", "std", "-display", "none",
            "-serial", .init(.ifSet(.serialLog, "file:"), .value(.serialLog, otherwise: "mon:stdio")),
        ]),
        .ifLinks([
            "-netdev", "hubport,id=link,hubid=1",
            "-device", .init("virtio-net-pci,netdev=link,mac=", .value(.linkMAC, otherwise: .fact(.defaultLinkMAC))),
        ]),
        .eachLink([
            "-netdev", .init("socket,id=link", .fact(.linkIndex), ",", .fact(.linkRole), "=", .fact(.linkHost), ":",
                             .fact(.linkPort)),
            "-netdev", .init("hubport,id=linkport", .fact(.linkIndex), ",hubid=1,netdev=link", .fact(.linkIndex)),
        ]),
        .extraArguments,
    ]

    public enum Accelerator: String, Sendable, CaseIterable {
        case auto, kvm, tcg

        /// `auto` is KVM when `kvmUsable()`, TCG otherwise.
        public var resolved: Accelerator { self == .auto ? (QemuMachine.kvmUsable() ? .kvm : .tcg) : self }

        /// KVM runs the host's CPU; TCG emulates `max`, everything it can.
        var cpuModel: String? {
            switch self {
            case .kvm: "host"
            case .tcg: "max"
            case .auto: nil
            }
        }
    }

    /// One end of a link: `listen:PORT` waits for another machine, `connect:PORT` joins one; a host
    /// may be given (`connect:127.0.0.1:PORT`), 127.0.0.1 otherwise.
    public struct Link: Sendable, Equatable {
        public enum Role: String, Sendable, CaseIterable { case listen, connect }
        public var role: Role
        public var host: String
        public var port: Int

        static let defaultHost = "127.0.0.1"
        /// ROLE:[HOST:]PORT. Groups as bash numbers them (`QemuValuePattern`): 2 the role, 4 the host, 5 the port.
        /// No comma in the host: QEMU would read what follows it as more -netdev options.
        static let pattern = QemuValuePattern(
            "(\(Role.allCases.map(\.rawValue).joined(separator: "|"))):(([^:,]+):)?(\(QemuValuePattern.digits))")
        static let groups = (role: 2, host: 4, port: 5)
        static let expected = "a link: use listen:PORT or connect:PORT (optionally listen:HOST:PORT), PORT \(QemuOption.Kind.bounds(QemuMachine.ports))"

        init?(validating text: String) {
            guard let groups = Self.pattern.match(text), let role = Role(rawValue: groups[Self.groups.role]),
                  let port = Int(groups[Self.groups.port]), QemuMachine.ports.contains(port) else { return nil }
            self.role = role
            self.host = groups[Self.groups.host].isEmpty ? Self.defaultHost : groups[Self.groups.host]
            self.port = port
        }
    }

    /// `52:54:00` (QEMU's prefix), `c0`, then the SSH port's two bytes.
    static let linkMACFormat = "52:54:00:c0:%02x:%02x"

    public static func defaultLinkMAC(sshPort: Int) -> String {
        String(format: linkMACFormat, sshPort >> 8 & 0xFF, sshPort & 0xFF)
    }

    static let macPattern = QemuValuePattern("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")

    public static func isMAC(_ text: String) -> Bool { macPattern.match(text) != nil }

    // The KVM rule's parts, which the script's kvm_usable() is rendered from.
    static let kvmDevice = "/dev/kvm"
    static let cpuinfo = "/proc/cpuinfo"
    static let cpuFlagsLine = "flags"
    static let virtualizationFlags = ["vmx", "svm"]

    /// KVM needs /dev/kvm to open read-write and a CPU with hardware virtualization (vmx/svm).
    /// Some VMs offer /dev/kvm without it, and QEMU then dies with "emulation failure" in firmware.
    public static func kvmUsable() -> Bool {
        let descriptor = open(kvmDevice, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        close(descriptor)
        let text = (try? String(contentsOfFile: cpuinfo, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").contains { line in
            line.hasPrefix(cpuFlagsLine) && line.split(separator: " ").contains { virtualizationFlags.contains(String($0)) }
        }
    }

    /// The full command line, with the firmware variable store at `variables`.
    public func arguments(variables: URL) throws -> [String] {
        try QemuCommandLine.render(Self.commandLine, for: self, variables: variables)
    }

    /// Runs QEMU in the foreground (stdio inherited) until the machine powers off; returns its exit status.
    public func run() throws -> Int32 {
        for firmware in [Self.firmwareCode, Self.firmwareVariables] where !FileManager.default.fileExists(atPath: firmware) {
            throw SupportError("UEFI firmware \(firmware) is missing; install Debian's ovmf package (scripts/setup.sh does)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-qemu-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let variables = scratch.appendingPathComponent("OVMF_VARS.fd")
        try FileManager.default.copyItem(atPath: Self.firmwareVariables, toPath: variables.path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = try arguments(variables: variables)
        // Stopping coresdk stops the machine: QEMU gets the same signal, and the scratch files go.
        let forwarded = [SIGTERM, SIGINT, SIGHUP]
        let sources = forwarded.map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { if process.isRunning { kill(process.processIdentifier, signalNumber) } }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            for signalNumber in forwarded { signal(signalNumber, SIG_DFL) }
        }
        do {
            try process.run()
        } catch {
            throw SupportError("cannot start qemu-system-x86_64: \(error); install Debian's qemu-system-x86")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension QemuOption {
    /// Every option of `coresdk qemu` and the script, in the order `--help` lists them.
    public static let all: [QemuOption] = [image, snapshot, sshPort, serialLog, memory, cpus, accel, link, linkMAC, dryRun, json]

    static let image = path("image", "FILE", launchers: [.script], help: "The disk image (default: the one next to this script).",
                            \.machine.image)
    static let snapshot = flag("snapshot", help: "Write to a throw-away overlay; the image is not changed.", \.machine.snapshot)
    static let sshPort = integer("ssh-port", "PORT", QemuMachine.ports,
                                 help: "Host port on 127.0.0.1 forwarded to the guest's SSH port.", \.machine.sshPort)
    static let serialLog = path("serial-log", "FILE", help: "Write the serial console to this file instead of stdio.",
                                \.machine.serialLog)
    static let memory = integer("memory", "MiB", 256..., unit: "MiB", help: "Guest memory in MiB.", \.machine.memoryMiB)
    static let cpus = integer("cpus", "N", 1..., help: "Guest CPUs.", \.machine.cpus)
    static let accel = choice("accel", help: "QEMU accelerator: auto (KVM when usable, else TCG), kvm or tcg.",
                              \.machine.accelerator)
    static let link = QemuOption(
        name: "link", valueName: "listen:PORT|connect:PORT", kind: .link, repeatable: true,
        help: "A second NIC linked to other machines on this host: listen:PORT (the first machine) or connect:PORT "
            + "(the others), optionally with a HOST before the PORT. Repeat it to link one machine to several; "
            + "they share one network.",
        store: { invocation, text in
            guard let link = QemuMachine.Link(validating: text) else { return false }
            invocation.machine.links.append(link)
            return true
        },
        current: { _ in nil })
    static let linkMAC = QemuOption(
        name: "link-mac", valueName: "MAC", kind: .pattern(QemuMachine.macPattern, "a MAC address like 52:54:00:12:34:56"),
        help: "The second NIC's MAC address (default: 52:54:00:c0 and the SSH port's two bytes).",
        store: { invocation, text in
            guard QemuMachine.isMAC(text) else { return false }
            invocation.machine.linkMAC = text
            return true
        },
        current: { $0.machine.linkMAC })
    static let dryRun = flag("dry-run", help: "Print the QEMU command line instead of running it.", \.dryRun)
    static let json = flag("json", launchers: [.coresdk],
                           help: "With --dry-run, print {\"command\": [...]}; print an error as JSON.", \.json)
}
