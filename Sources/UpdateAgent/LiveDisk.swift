#if canImport(Glibc)
import Glibc
#endif
import Payload
import Posix
import SlotLayout

/// This machine's disk as coreos-gptprio shows it: the disk, its two USR slots, and the one the
/// machine booted, found from the kernel command line's `verity.usr=PARTUUID=` (coreos-boot's).
public struct LiveDisk: Sendable {
    public struct Slot: Sendable, Equatable {
        public let slot: UsrSlot
        public let number: Int
        public let uniqueGUID: String
        public let attributes: GPTPartitionAttributes
    }

    /// The whole disk, `/dev/vda`.
    public let disk: String
    /// Its kernel name, `vda`.
    public let diskName: String
    public let booted: Slot
    public let slots: [UsrSlot: Slot]

    public init(commandLine: String, commands: SpawnedCommands = SpawnedCommands()) throws {
        guard let uuid = commandLine.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("verity.usr=PARTUUID=") })?
            .dropFirst("verity.usr=PARTUUID=".count).lowercased() else {
            throw InstallError("no verity.usr=PARTUUID= on the kernel command line: this machine did not boot from a USR slot")
        }
        guard let device = Self.resolve("/dev/disk/by-partuuid/\(uuid)") else { throw InstallError("no device has PARTUUID \(uuid)") }
        let name = String(device.split(separator: "/").last ?? "")
        guard let diskName = Self.resolve("/sys/class/block/\(name)/..").map({ String($0.split(separator: "/").last ?? "") }),
              !diskName.isEmpty else { throw InstallError("cannot find the disk \(device) belongs to") }
        self.diskName = diskName
        disk = "/dev/\(diskName)"
        let shown = commands.capture(["coreos-gptprio", "show", disk])
        guard shown.status == 0 else { throw InstallError("coreos-gptprio show \(disk) failed (exit \(shown.status))") }
        var slots: [UsrSlot: Slot] = [:]
        for line in String(decoding: shown.output, as: UTF8.self).split(separator: "\n") {
            if let slot = Self.parseShowLine(line) { slots[slot.slot] = slot }
        }
        guard let booted = slots.values.first(where: { $0.uniqueGUID.lowercased() == uuid }) else {
            throw InstallError("\(device) (PARTUUID \(uuid)) is not USR-A or USR-B of \(disk)")
        }
        self.booted = booted
        self.slots = slots
    }

    /// "3 USR-A 7130c94a-… priority=1 tries=0 successful=1", coreos-gptprio's `show` line.
    static func parseShowLine(_ line: Substring) -> Slot? {
        let fields = line.split(separator: " ")
        guard fields.count == 6, let number = Int(fields[0]), let slot = UsrSlot(label: String(fields[1])) else { return nil }
        func value(_ name: String) -> UInt8? {
            fields.first { $0.hasPrefix(name + "=") }.flatMap { UInt8($0.dropFirst(name.count + 1)) }
        }
        guard let priority = value("priority"), let tries = value("tries"), let successful = value("successful") else { return nil }
        return Slot(slot: slot, number: number, uniqueGUID: String(fields[2]),
                    attributes: GPTPartitionAttributes(priority: priority, tries: tries, successful: successful == 1))
    }

    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The running machine's disk as the installer's target: the USR slot the machine did not boot,
/// written through its partition's block device; the ESP mounted for the boot files (the kernel's
/// FAT driver, on a private mount point, unmounted again); the gptprio bits through
/// `coreos-gptprio`, the C tool that shares its GPT code with the bootloader and the initramfs.
public struct LiveDiskTarget: InstallTarget {
    public let live: LiveDisk
    private let commands: SpawnedCommands
    private let mountPoint: String
    private let partition: SystemFile
    private let capacity: UInt64

    public init(commandLine: String, mountPoint: String = "/run/update_engine/esp", commands: SpawnedCommands = SpawnedCommands()) throws {
        live = try LiveDisk(commandLine: commandLine, commands: commands)
        self.commands = commands
        self.mountPoint = mountPoint
        guard let other = live.slots[live.booted.slot.other] else { throw InstallError("\(live.disk) has no \(live.booted.slot.other.label)") }
        let partitionName = try Self.partitionName(disk: live.diskName, number: other.number)
        guard let sectors = SystemFile.contents(of: "/sys/class/block/\(partitionName)/size")
            .flatMap({ UInt64(String(decoding: $0, as: UTF8.self).filter(\.isNumber)) }) else {
            throw InstallError("cannot read the size of /dev/\(partitionName)")
        }
        capacity = sectors * 512
        partition = try SystemFile("/dev/\(partitionName)", .readWrite)
    }

    public func checkReady() throws {
        guard live.booted.attributes.successful else {
            throw InstallError("\(live.booted.slot.label), booted now, is not marked good yet; the update waits for the boot check")
        }
    }

    public func inactiveSlot() throws -> (slot: UsrSlot, capacity: UInt64, attributes: [UsrSlot: GPTPartitionAttributes]) {
        (live.booted.slot.other, capacity, live.slots.mapValues(\.attributes))
    }

    public func writeUsr(_ bytes: [UInt8], at offset: UInt64) throws { try partition.write(bytes, at: offset) }

    public func finishUsr() throws { try partition.synchronize() }

    public func activate(_ slot: UsrSlot, bootFiles: [(file: SlotBootFiles.File, bytes: [UInt8])],
                         attributes: GPTPartitionAttributes) throws {
        guard let target = live.slots[slot], slot != live.booted.slot else { throw InstallError("refusing to install over the booted slot \(live.booted.slot.label)") }
        try withESP { root in
            let directory = root + "/" + SlotBootFiles.directory
            mkdir(directory, 0o755)
            for (file, bytes) in bootFiles {
                try SystemFile.replace(root + "/" + SlotBootFiles(slot).path(file), with: bytes)
            }
            try SystemFile.synchronizeDirectory(directory)
        }
        let status = commands.run(["coreos-gptprio", "set", live.disk, String(target.number),
                                   "--priority", String(attributes.priority), "--tries", String(attributes.tries),
                                   "--successful", attributes.successful ? "1" : "0"], input: nil)
        guard status == 0 else { throw InstallError("coreos-gptprio set \(live.disk) \(target.number) failed (exit \(status))") }
    }

    /// Runs `body` with the ESP mounted read-write at the private mount point.
    private func withESP(_ body: (String) throws -> Void) throws {
        guard let esp = LiveDisk.resolve("/dev/disk/by-partlabel/EFI-SYSTEM") else { throw InstallError("no EFI-SYSTEM partition") }
        mkdir("/run/update_engine", 0o700)
        mkdir(mountPoint, 0o700)
        guard mount(esp, mountPoint, "vfat", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil) == 0 else {
            throw InstallError("cannot mount the ESP \(esp) on \(mountPoint): \(String(cString: strerror(errno)))")
        }
        defer { umount(mountPoint) }
        try body(mountPoint)
    }

    /// The kernel's name of partition `number` of `disk`: `vda4`, `nvme0n1p4`.
    private static func partitionName(disk: String, number: Int) throws -> String {
        for candidate in ["\(disk)\(number)", "\(disk)p\(number)"] {
            if let text = SystemFile.contents(of: "/sys/class/block/\(candidate)/partition"),
               Int(String(decoding: text, as: UTF8.self).filter(\.isNumber)) == number { return candidate }
        }
        throw InstallError("/dev/\(disk) has no partition \(number)")
    }
}

/// Why the update engine could not install on this machine.
public struct InstallError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
