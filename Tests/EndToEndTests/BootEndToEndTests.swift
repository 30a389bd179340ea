import Boot
import Foundation
import XCTest

/// Boots the default board's image under QEMU (OVMF, TCG) from the disk alone and checks what a
/// user of it sees: login prompts, the verified read-only /usr, first-boot setup, the core user,
/// and the A/B slot logic — a slot on trial is marked good, and one nobody judges good is given up
/// by the watchdog.
final class BootEndToEndTests: XCTestCase {
    struct PreparedDisk {
        let directory: URL
        let disk: URL
        let key: URL
    }

    nonisolated(unsafe) static var prepared: Result<PreparedDisk, Error>?

    /// A copy of the built raw disk that lets core in with a fresh key, injected the way a user does
    /// it: `coresdk inject cloud-config` into the OEM partition; made once per run.
    func preparedDisk() throws -> PreparedDisk {
        if let prepared = Self.prepared { return try prepared.get() }
        let result = Result { () throws -> PreparedDisk in
            let directory = try CoreSDKRunner.scratchDirectory("coresdk-boot")
            let key = directory.appendingPathComponent("id_ed25519")
            try CoreSDKRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", key.path])
            let disk = directory.appendingPathComponent("base.bin")
            try CoreSDKRunner.run(["cp", "--sparse=always", try ImageFixture.file("coreos_production_image.bin").path, disk.path])
            let config = directory.appendingPathComponent("cloud-config.yml")
            try "#cloud-config\n".write(to: config, atomically: true, encoding: .utf8)
            try CoreSDKRunner.run([CoreSDKRunner.binary.path, "inject", "cloud-config", disk.path, config.path,
                                   "--ssh-key", key.path + ".pub"])
            return PreparedDisk(directory: directory, disk: disk, key: key)
        }
        Self.prepared = result
        return try result.get()
    }

    func copyOfPreparedDisk(_ name: String, growBy extraBytes: Int = 0) throws -> URL {
        let prepared = try preparedDisk()
        let copy = prepared.directory.appendingPathComponent("\(name).bin")
        try? FileManager.default.removeItem(at: copy)
        try CoreSDKRunner.run(["cp", "--sparse=always", prepared.disk.path, copy.path])
        if extraBytes > 0 { try CoreSDKRunner.run(["truncate", "-s", "+\(extraBytes)", copy.path]) }
        return copy
    }

    /// Puts a copy of USR-A into USR-B with slot B's boot files on the ESP, and gives B priority 2
    /// with one try, as an update would. (Damaged updates are PayloadEndToEndTests'.)
    func installSlotB(on disk: URL, extraCommandLine: String = "") throws {
        let usr = try ImageFixture.extractPartition(3, from: disk)
        defer { try? FileManager.default.removeItem(at: usr) }
        try ImageFixture.writePartition(4, of: disk, from: usr)
        let esp = "\(disk.path)@@\(try ImageFixture.partition(1, of: disk).start * 512)"
        let scratch = disk.deletingLastPathComponent().appendingPathComponent("slot-b-\(UUID().uuidString.prefix(4))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for file in SlotBootFiles.File.allCases {
            try CoreSDKRunner.run(["mcopy", "-n", "-i", esp, "::" + SlotBootFiles(.a).path(file),
                                   scratch.appendingPathComponent(file.rawValue).path])
        }
        let cmdline = scratch.appendingPathComponent(SlotBootFiles.File.commandLine.rawValue)
        let text = try String(contentsOf: cmdline, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try (text + (extraCommandLine.isEmpty ? "" : " \(extraCommandLine)") + "\n").write(to: cmdline, atomically: true, encoding: .utf8)
        for file in SlotBootFiles.File.allCases {
            try CoreSDKRunner.run(["mcopy", "-o", "-i", esp, scratch.appendingPathComponent(file.rawValue).path,
                                   "::" + SlotBootFiles(.b).path(file)])
        }
        try CoreSDKRunner.run(["cgpt", "add", "-i", "4", "-P", "2", "-T", "1", "-S", "0", disk.path])
    }

    // MARK: tests

    /// Stopping `coresdk qemu` (as a test harness or a service manager does) stops its machine too.
    func testStoppingCoresdkQemuStopsQemu() throws {
        let disk = try copyOfPreparedDisk("stopped")
        let machine = try BootedMachine(disk: disk, key: try preparedDisk().key)
        func qemuProcesses() throws -> [String] {
            try CoreSDKRunner.launch(["pgrep", "-f", "qemu-system-x86_64 .*file=\(disk.path)"]).standardOutput
                .split(separator: "\n").map(String.init)
        }
        let deadline = Date().addingTimeInterval(30)
        while try qemuProcesses().isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.5) }
        XCTAssertEqual(try qemuProcesses().count, 1, "coresdk qemu started QEMU")
        machine.stop()
        let stopDeadline = Date().addingTimeInterval(30)
        while try !qemuProcesses().isEmpty && Date() < stopDeadline { Thread.sleep(forTimeInterval: 0.5) }
        XCTAssertEqual(try qemuProcesses(), [], "QEMU went with coresdk qemu")
    }

    func testFirstBootSetsUpTheMachineAndASecondBootKeepsIt() throws {
        let disk = try copyOfPreparedDisk("first-boot", growBy: 1 << 30)
        let key = try preparedDisk().key
        var machine: BootedMachine? = try BootedMachine(disk: disk, key: key)
        let serialLogin = try machine!.waitForConsole("login:", timeout: 300)
        print("boot: serial login prompt \(Int(serialLogin)) s after QEMU started (TCG)")
        let console = machine!.console
        XCTAssertTrue(console.contains("coreos-boot: USR-A"), "the bootloader chose USR-A")

        XCTAssertEqual(try machine!.ssh("id -u; id -nG").split(separator: "\n").first, "500")
        XCTAssertTrue(try machine!.ssh("id -nG").contains("sudo"))
        XCTAssertEqual(try machine!.ssh("sudo -n id -u").trimmingCharacters(in: .whitespacesAndNewlines), "0")
        let usr = try machine!.ssh("findmnt -rno SOURCE,FSTYPE,OPTIONS /usr")
        XCTAssertTrue(usr.hasPrefix("/dev/mapper/usr squashfs ro"), usr)
        XCTAssertTrue(try machine!.ssh("findmnt -rno FSTYPE,OPTIONS /").hasPrefix("ext4 rw"))
        XCTAssertTrue(try machine!.ssh("findmnt -no SOURCE /usr/share/oem; lsblk -no LABEL $(findmnt -no SOURCE /usr/share/oem)").contains("OEM"))
        XCTAssertTrue(try machine!.ssh("sudo cat /dev/vcs1").contains("login:"), "a login prompt on the VGA console")
        XCTAssertEqual(try machine!.ssh("sudo sshd -T | grep -i '^passwordauthentication'").trimmingCharacters(in: .whitespacesAndNewlines),
                       "passwordauthentication no")
        let machineID = try machine!.ssh("cat /etc/machine-id").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(machineID.count, 32)
        let hostKey = try machine!.ssh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
        let diskGUID = try machine!.ssh("lsblk -dno PTUUID /dev/vda").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotEqual(diskGUID.uppercased(), "00000000-0000-0000-0000-000000000001", "first boot randomizes the disk GUID")
        // ROOT's partition and filesystem fill the disk: the image's 2162 MiB plus the 1 GiB it grew by.
        let number = { (command: String) throws -> Int in
            Int(try machine!.ssh(command).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let partitionBytes = try number("lsblk -bdno SIZE /dev/disk/by-partlabel/ROOT")
        XCTAssertGreaterThan(partitionBytes, (2162 << 20) + (1 << 30) - (4 << 20))
        // s_blocks_count_lo: 4 bytes at offset 4 of the superblock, which starts at byte 1024.
        let blocks = try number("sudo dd if=/dev/disk/by-partlabel/ROOT bs=1 skip=1028 count=4 status=none | od -An -tu4")
        XCTAssertEqual(blocks * 4096, partitionBytes / 4096 * 4096, "ext4 was grown to the whole partition")
        let failed = try machine!.ssh("systemctl list-units --state=failed --no-legend --plain")
        XCTAssertEqual(failed, "", "no failed units")
        print("boot: memory after boot: " + (try machine!.ssh("free -m | awk '/^Mem:/ {print $3 \" MiB used\"}'")))
        try machine!.powerOff()
        machine = nil

        // Offline: what the first boot wrote to the GPT.
        let table = try CoreSDKRunner.run(["sfdisk", "--dump", disk.path]).standardOutput
        XCTAssertFalse(table.contains("label-id: 00000000-0000-0000-0000-000000000001"), table)
        try CoreSDKRunner.run(["sfdisk", "--verify", disk.path])

        let second = try BootedMachine(disk: disk, key: key)
        try second.waitForConsole("login:", timeout: 300)
        XCTAssertTrue(second.console.contains("not a first boot"), "the initramfs skips first-boot work")
        XCTAssertEqual(try second.ssh("cat /etc/machine-id").trimmingCharacters(in: .whitespacesAndNewlines), machineID)
        XCTAssertEqual(try second.ssh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"), hostKey)
        XCTAssertEqual(try second.ssh("lsblk -dno PTUUID /dev/vda").trimmingCharacters(in: .whitespacesAndNewlines), diskGUID)
        try second.powerOff()
    }

    func testSlotOnTrialIsMarkedSuccessfulAfterAGoodBoot() throws {
        let disk = try copyOfPreparedDisk("trial")
        try installSlotB(on: disk, extraCommandLine: "coreos.boot_check_delay=5")
        let machine = try BootedMachine(disk: disk, key: try preparedDisk().key)
        try machine.waitForConsole("login:", timeout: 300)
        XCTAssertTrue(machine.console.contains("coreos-boot: USR-B"), "the slot with the higher priority boots")
        XCTAssertTrue(machine.console.contains("coreos-init: armed /dev/watchdog"), "the initramfs guards the trial")
        XCTAssertTrue(machine.console.contains("(all read and verified)"), "all of /usr is verified before it runs")
        XCTAssertTrue(try machine.ssh("cat /proc/cmdline").contains("verity.usr=PARTUUID=e03dd35c-7c2d-4a47-b3fe-27f15780a57c"))
        // The boot check marks B successful once the system has run without failed units, then
        // stops the watchdog so that the proven slot keeps running.
        let state = try machine.waitUntilSlotIsMarkedGood(4, timeout: 120)
        XCTAssertTrue(state.contains("successful=1"), state)
        XCTAssertTrue(try machine.ssh("cat /run/coreos-init/trial").contains("usr-verified=all"))
        let watchdog = try machine.ssh("for _ in $(seq 30); do s=$(cat /sys/class/watchdog/watchdog0/state); [ $s = inactive ] && break; sleep 1; done; echo $s")
        XCTAssertEqual(watchdog.trimmingCharacters(in: .whitespacesAndNewlines), "inactive", "the boot check stops the watchdog")
        XCTAssertTrue(try machine.ssh("sudo journalctl -b -u coreos-boot-check --no-pager").contains("stopped the watchdog"))
        try machine.powerOff()
        let b = try ImageFixture.gptprio(disk, 4), a = try ImageFixture.gptprio(disk, 3)
        XCTAssertEqual(b.successful, 1)
        XCTAssertEqual(b.tries, 0)
        XCTAssertGreaterThan(b.priority, a.priority, "the good slot stays the preferred one")
    }

    /// A slot on trial whose userspace runs but never judges it (here: the boot check masked, as
    /// when a damaged /usr cannot run it) is reset by the watchdog the initramfs armed, and the
    /// bootloader boots the previous slot — nothing from the slot on trial takes part.
    func testSlotOnTrialNobodyJudgesIsGivenUpByTheWatchdog() throws {
        let disk = try copyOfPreparedDisk("unjudged")
        let trialTimeout = 200
        try installSlotB(on: disk, extraCommandLine: "coreos.trial_timeout=\(trialTimeout) systemd.mask=coreos-boot-check.service")
        let machine = try BootedMachine(disk: disk, key: try preparedDisk().key)
        try machine.waitForConsole("coreos-boot: USR-B", timeout: 120)
        try machine.waitForConsole("coreos-init: armed /dev/watchdog", timeout: 120)
        let resetAt = try machine.waitForConsole("softdog: Initiating system reboot", timeout: TimeInterval(trialTimeout + 60))
        let beforeReset = machine.console.components(separatedBy: "softdog: Initiating system reboot")[0]
        XCTAssertTrue(beforeReset.contains("login:"), "the slot's userspace was up, only nobody judged it")
        try machine.waitForConsole("coreos-boot: USR-A", timeout: 60)
        let loginAt = try machine.waitForConsole("login:", occurrence: 2, timeout: 300)
        print("boot: the watchdog reset the unjudged slot \(Int(resetAt)) s after QEMU started; USR-A at the login prompt \(Int(loginAt - resetAt)) s later")
        XCTAssertTrue(try machine.ssh("cat /proc/cmdline").contains("verity.usr=PARTUUID=7130c94a-213a-4e5a-8e26-6cce9662f132"))
        XCTAssertEqual(try machine.ssh("cat /sys/class/watchdog/watchdog0/state").trimmingCharacters(in: .whitespacesAndNewlines),
                       "inactive", "the proven slot runs without a watchdog")
        try machine.powerOff()
        let b = try ImageFixture.gptprio(disk, 4)
        XCTAssertEqual(b.tries, 0, "B's only try is used up")
        XCTAssertEqual(b.successful, 0, "B was never judged good")
        XCTAssertEqual(try ImageFixture.gptprio(disk, 3).successful, 1)
    }
}
