import Foundation
import Support

/// How `coresdk qemu` (and the `<prefix>_production_qemu.sh` written next to each image) starts an
/// image, as CoreOS's qemu script did: UEFI firmware, KVM when usable (else TCG), a virtio disk,
/// user networking with SSH forwarded on 127.0.0.1, the serial console on stdio or in a file.
public struct QemuMachine: Sendable {
    /// Debian's `ovmf` package: read-only code, and a variable store each run gets a copy of.
    public static let firmwareCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    public static let firmwareVariables = "/usr/share/OVMF/OVMF_VARS_4M.fd"

    public var image: URL
    /// Writes go to a throw-away overlay; the image stays as it was.
    public var snapshot = false
    /// Host port on 127.0.0.1 forwarded to the guest's SSH port.
    public var sshPort: Int?
    /// The serial console goes here instead of stdio.
    public var serialLog: URL?
    public var memoryMiB = 1024
    public var cpus = 2
    public var useKVM = QemuMachine.kvmUsable()
    /// Sockets to other machines (QEMU's `-netdev socket`), all joined to one second NIC through a
    /// QEMU hub: machines booted on one host share a private network, as the article's second NIC.
    public var links: [Link] = []
    /// The second NIC's MAC address; by default one made from the SSH port, so machines started
    /// side by side (each with its own port) differ.
    public var linkMAC: String?
    public var extraArguments: [String] = []

    public init(image: URL) { self.image = image }

    /// One end of a link: `listen:PORT` waits for another machine, `connect:PORT` joins one; a host
    /// may be given (`connect:127.0.0.1:PORT`), 127.0.0.1 otherwise.
    public struct Link: Sendable, Equatable {
        public enum Role: String, Sendable { case listen, connect }
        public var role: Role
        public var host: String
        public var port: Int

        public init(parsing text: String) throws {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (2...3).contains(parts.count), let role = Role(rawValue: parts[0]),
                  let port = Int(parts[parts.count - 1]), (1...65535).contains(port),
                  parts.count == 2 || !parts[1].isEmpty else {
                throw SupportError("'\(text)' is not a link: use listen:PORT or connect:PORT (optionally listen:HOST:PORT), PORT 1-65535")
            }
            self.role = role
            self.host = parts.count == 3 ? parts[1] : "127.0.0.1"
            self.port = port
        }
    }

    /// `52:54:00` (QEMU's prefix), `c0`, then the SSH port's two bytes.
    public static func defaultLinkMAC(sshPort: Int) -> String {
        String(format: "52:54:00:c0:%02x:%02x", sshPort >> 8 & 0xFF, sshPort & 0xFF)
    }

    public static func isMAC(_ text: String) -> Bool {
        let octets = text.split(separator: ":", omittingEmptySubsequences: false)
        return octets.count == 6 && octets.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }

    var linkArguments: [String] {
        guard !links.isEmpty else { return [] }
        var arguments = ["-netdev", "hubport,id=link,hubid=1",
                         "-device", "virtio-net-pci,netdev=link,mac=\(linkMAC ?? Self.defaultLinkMAC(sshPort: sshPort ?? 0))"]
        for (index, link) in links.enumerated() {
            arguments += ["-netdev", "socket,id=link\(index),\(link.role.rawValue)=\(link.host):\(link.port)",
                          "-netdev", "hubport,id=linkport\(index),hubid=1,netdev=link\(index)"]
        }
        return arguments
    }

    /// KVM needs /dev/kvm to open read-write and a CPU with hardware virtualization (vmx/svm).
    /// Some VMs offer /dev/kvm without it, and QEMU then dies with "emulation failure" in firmware.
    public static func kvmUsable() -> Bool {
        let descriptor = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        close(descriptor)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return cpuinfo.split(separator: "\n").contains { line in
            line.hasPrefix("flags") && line.split(separator: " ").contains { $0 == "vmx" || $0 == "svm" }
        }
    }

    /// The image's format from its first bytes: qcow2 starts with "QFI\u{FB}", everything else is raw.
    public static func format(of image: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: image.path) else {
            throw SupportError("\(image.path): no such image")
        }
        defer { try? handle.close() }
        let magic = try handle.read(upToCount: 4) ?? Data()
        return magic == Data([0x51, 0x46, 0x49, 0xFB]) ? "qcow2" : "raw"
    }

    /// The full command line, with the firmware variable store at `variables`.
    public func arguments(variables: URL) throws -> [String] {
        var drive = "if=none,id=disk0,format=\(try Self.format(of: image)),file=\(image.path)"
        if snapshot { drive += ",snapshot=on" }
        var netdev = "user,id=net0"
        if let sshPort { netdev += ",hostfwd=tcp:127.0.0.1:\(sshPort)-:22" }
        return ["qemu-system-x86_64",
                "-machine", "q35", "-accel", useKVM ? "kvm" : "tcg", "-cpu", useKVM ? "host" : "max",
                "-m", String(memoryMiB), "-smp", String(cpus),
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(Self.firmwareCode)",
                "-drive", "if=pflash,format=raw,unit=1,file=\(variables.path)",
                "-drive", drive, "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
                "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
                "-vga", "std", "-display", "none",
                "-serial", serialLog.map { "file:\($0.path)" } ?? "mon:stdio"]
            + linkArguments + extraArguments
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

/// `<prefix>_production_qemu.sh`: the same machine as `coresdk qemu`, for people who only have the
/// image directory (like CoreOS's coreos_production_qemu.sh).
public enum QemuScript {
    public static func text(imageName: String) -> String {
        """
        #!/bin/bash
        # Boots \(imageName) (next to this script) under QEMU with UEFI, as `coresdk qemu` does.
        # Needs Debian's qemu-system-x86 and ovmf. Usage:
        #   \(scriptUsage)
        set -euo pipefail
        image="$(dirname "$(readlink -f "$0")")/\(imageName)"
        ssh_port=2222 serial=mon:stdio memory=1024 cpus=2 snapshot= dry_run= link_mac=
        links=()
        while [ $# -gt 0 ]; do
            case $1 in
                --snapshot) snapshot=,snapshot=on ;;
                --ssh-port) ssh_port=$2; shift ;;
                --serial-log) serial=file:$2; shift ;;
                --memory) memory=$2; shift ;;
                --cpus) cpus=$2; shift ;;
                --image) image=$2; shift ;;
                --link) links+=("$2"); shift ;;
                --link-mac) link_mac=$2; shift ;;
                --dry-run) dry_run=1 ;;
                --) shift; break ;;
                -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
                *) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
            esac
            shift
        done
        if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm cpu=host; else accel=tcg cpu=max; fi
        format=raw
        [ "$(head -c 4 "$image" | od -An -tx1 | tr -d ' ')" = 514649fb ] && format=qcow2
        variables=$(mktemp --suffix=.fd)
        trap 'rm -f "$variables"' EXIT
        cp \(QemuMachine.firmwareVariables) "$variables"
        command=(qemu-system-x86_64 -machine q35 -accel "$accel" -cpu "$cpu" -m "$memory" -smp "$cpus"
            -drive if=pflash,format=raw,unit=0,readonly=on,file=\(QemuMachine.firmwareCode)
            -drive "if=pflash,format=raw,unit=1,file=$variables"
            -drive "if=none,id=disk0,format=$format,file=$image$snapshot" -device virtio-blk-pci,drive=disk0,bootindex=1
            -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$ssh_port-:22" -device virtio-net-pci,netdev=net0
            -vga std -display none -serial "$serial")
        if [ ${#links[@]} -gt 0 ]; then
            [ -n "$link_mac" ] || link_mac=$(printf '52:54:00:c0:%02x:%02x' $((ssh_port >> 8 & 255)) $((ssh_port & 255)))
            command+=(-netdev hubport,id=link,hubid=1 -device "virtio-net-pci,netdev=link,mac=$link_mac")
            for index in "${!links[@]}"; do
                IFS=: read -r role host port <<<"${links[$index]}"
                [ -n "$port" ] || { port=$host; host=127.0.0.1; }
                case $role in listen|connect) ;; *) echo "--link ${links[$index]}: use listen:PORT or connect:PORT" >&2; exit 64 ;; esac
                command+=(-netdev "socket,id=link$index,$role=$host:$port" -netdev "hubport,id=linkport$index,hubid=1,netdev=link$index")
            done
        fi
        command+=("$@")
        if [ -n "$dry_run" ]; then printf '%s\\n' "${command[@]}"; exit 0; fi
        "${command[@]}"

        """
    }

    static let scriptUsage = "[--snapshot] [--ssh-port PORT] [--serial-log FILE] [--memory MiB] [--cpus N] [--link listen:PORT|connect:PORT ...] [--link-mac MAC] [-- QEMU ARGS]"
}
