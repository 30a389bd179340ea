import Foundation
import Testing
@testable import CloudConfig

/// Records the tools the applier would run; a scratch root has no systemd to run them against.
final class RecordedCommands: CommandRunner, @unchecked Sendable {
    private(set) var calls: [String] = []
    var failing: Set<String> = []
    func run(_ arguments: [String], input: [UInt8]?) -> Int32 {
        let call = arguments.joined(separator: " ")
        calls.append(call)
        return failing.contains(call) ? 1 : 0
    }
}

@Suite struct ApplierTests {
    let root: URL
    let files: MachineFiles

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cloudinit-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        files = MachineFiles(root: root.path)
    }

    func apply(_ text: String, commands: RecordedCommands = RecordedCommands()) throws -> (Applier, RecordedCommands) {
        let applier = Applier(files: files, commands: commands, log: { _ in })
        applier.apply(try CloudConfig(parsing: text))
        return (applier, commands)
    }

    func attributes(_ path: String) throws -> (mode: Int, uid: Int, gid: Int) {
        let info = try FileManager.default.attributesOfItem(atPath: root.path + path)
        return ((info[.posixPermissions] as! NSNumber).intValue, (info[.ownerAccountID] as! NSNumber).intValue,
                (info[.groupOwnerAccountID] as! NSNumber).intValue)
    }

    @Test func hostnameFilesAndHosts() throws {
        let (applier, _) = try apply("""
            hostname: node-1
            manage_etc_hosts: localhost
            write_files:
              - path: /etc/motd.d/hello
                content: "hi\\n"
                permissions: "0640"
                owner: "1234:2345"
              - path: /var/lib/app/data.bin
                encoding: b64
                content: AAEC
              - path: /etc/../etc/plain
                content: x
            coreos:
              oem: {id: qemu, name: QEMU}
            """)
        #expect(applier.failures.isEmpty)
        #expect(files.readText("/etc/hostname") == "node-1\n")
        #expect(files.readText("/etc/hosts") == "127.0.0.1 node-1\n")
        #expect(files.readText("/etc/motd.d/hello") == "hi\n")
        #expect(try attributes("/etc/motd.d/hello") == (0o640, 1234, 2345))
        #expect(try attributes("/etc/motd.d").mode == 0o755, "missing parents are made 0755")
        #expect(files.read("/var/lib/app/data.bin") == [0, 1, 2])
        #expect(try attributes("/var/lib/app/data.bin").mode == 0o644, "the default mode")
        #expect(files.readText("/etc/plain") == "x", "no newline is added")
        #expect(files.readText("/etc/oem-release") == "ID=qemu\nNAME=\"QEMU\"\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path + "/etc").filter { $0.hasPrefix(".cloudinit-temp") }
        #expect(leftovers.isEmpty)
    }

    @Test func aFailingEntryDoesNotStopTheOthers() throws {
        try files.write("/etc/blocker", text: "a file, not a directory")
        let (applier, _) = try apply("""
            hostname: "bad host name!"
            write_files:
              - path: /etc/blocker/file
                content: x
              - path: /etc/after
                content: y
              - path: /etc/owned
                owner: no-such-user-here
            manage_etc_hosts: yes-please
            """)
        #expect(applier.failures.count == 4)
        #expect(files.readText("/etc/after") == "y")
        #expect(!files.exists("/etc/owned"), "an unknown owner is an error, and no file is left")
        #expect(!files.exists("/etc/hosts"))
    }

    @Test func unitsInCoreosCloudinitsOrder() throws {
        let (applier, commands) = try apply("""
            coreos:
              etcd: {name: n1, addr: "10.0.0.1:4001"}
              update: {reboot-strategy: "off", group: beta}
              units:
                - name: hello.service
                  content: "[Service]\\nExecStart=/bin/true\\n"
                  enable: true
                  command: start
                - name: static.network
                  content: "[Match]\\nName=eth1\\n"
                  command: start
                - name: docker.service
                  drop-ins:
                    - {name: 50-env.conf, content: "[Service]\\nEnvironment=A=1\\n"}
                  command: restart
                - name: runtime.service
                  runtime: true
                  content: "[Service]\\nExecStart=/bin/true\\n"
                - name: masked.service
                  mask: true
            """)
        #expect(applier.failures.isEmpty)
        #expect(files.readText("/etc/systemd/system/hello.service") == "[Service]\nExecStart=/bin/true\n")
        #expect(files.readText("/etc/systemd/network/static.network") == "[Match]\nName=eth1\n")
        #expect(files.readText("/etc/systemd/system/docker.service.d/50-env.conf") == "[Service]\nEnvironment=A=1\n")
        #expect(files.exists("/run/systemd/system/runtime.service"))
        #expect(files.linkTarget("/etc/systemd/system/masked.service") == "/dev/null")
        #expect(files.readText("/run/systemd/system/etcd.service.d/20-cloudinit.conf")?.contains(#"Environment="ETCD_NAME=n1""#) == true)
        #expect(!files.exists("/run/systemd/system/fleet.service.d"), "empty sections write no drop-in")
        #expect(files.linkTarget("/run/systemd/system/locksmithd.service") == "/dev/null", "reboot-strategy off masks locksmithd")
        #expect(files.readText("/etc/coreos/update.conf") == "GROUP=beta\nREBOOT_STRATEGY=off\n")
        #expect(commands.calls == [
            "systemctl enable --force hello.service",
            "systemctl daemon-reload",
            "systemctl restart systemd-networkd.service",
            "systemctl --job-mode=replace start hello.service",
            "systemctl --job-mode=replace restart docker.service",
            "systemctl --job-mode=replace stop locksmithd.service",
            "systemctl --job-mode=replace restart update-engine.service",
        ], "network units restart networkd instead of taking their command")
    }

    @Test func networkFilesFromWriteFilesRestartNetworkdBeforeCommands() throws {
        let (applier, commands) = try apply("""
            write_files:
              - path: /etc/systemd/network/10-static.network
                content: "[Match]\\nMACAddress=52:54:00:00:01:01\\n[Network]\\nAddress=192.168.100.11/24\\n"
            coreos:
              units:
                - name: etcd.service
                  command: start
            """)
        #expect(applier.failures.isEmpty)
        #expect(files.readText("/etc/systemd/network/10-static.network")?.contains("Address=192.168.100.11/24") == true)
        #expect(commands.calls == [
            "systemctl restart systemd-networkd.service",
            "systemctl --job-mode=replace start etcd.service",
        ], "the static address is up before etcd starts")
        let (_, plain) = try apply("write_files:\n  - path: /etc/motd\n    content: hi\n")
        #expect(plain.calls.isEmpty, "other files restart nothing")
    }

    @Test func runtimeEntriesUnmaskOnlyMasks() throws {
        try files.symlink("/run/systemd/system/etcd.service", to: "/dev/null")
        try files.write("/run/systemd/system/fleet.service", text: "[Service]\nExecStart=/bin/true\n")
        _ = try apply("hostname: a\n")
        #expect(!files.exists("/run/systemd/system/etcd.service"), "a runtime mask is removed on every run")
        #expect(files.exists("/run/systemd/system/fleet.service"), "a real runtime unit is left alone")
    }

    @Test func failedCommandsAreReportedAndTheRestRuns() throws {
        let commands = RecordedCommands()
        commands.failing = ["systemctl --job-mode=replace start fleet.service"]
        let (applier, _) = try apply("""
            coreos:
              units:
                - {name: fleet.service, command: start}
                - {name: docker.service, command: start}
            """, commands: commands)
        #expect(applier.failures.count == 1)
        #expect(commands.calls.last == "systemctl --job-mode=replace start docker.service")
    }

    @Test func keySetsKeepOtherSetsAndOldKeys() throws {
        let key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK65C+3QBixJtICDg9fEgrGyZzZiQTfdHQTD9MkPm/fi one"
        let key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgqDoE5eTexWjguOjgW3A1TKNRKNCdLN9pyGN3tiTFd two"
        try files.write("/home/core/.ssh/authorized_keys", text: "\(key2)\n")
        let sets = AuthorizedKeySets(files: files, home: "/home/core", owner: Owner(uid: 500, gid: 500))
        try sets.replace(set: "coreos-cloudinit", with: [key1 + "\n"])
        #expect(files.readText("/home/core/.ssh/authorized_keys.d/old_authorized_keys") == "\(key2)\n")
        #expect(files.readText("/home/core/.ssh/authorized_keys") == "# auto-generated by update-ssh-keys\n\(key1)\n\(key2)\n")
        try sets.replace(set: "coreos-cloudinit", with: [])
        #expect(files.readText("/home/core/.ssh/authorized_keys") == "# auto-generated by update-ssh-keys\n\(key2)\n",
                "keys dropped from the config disappear; other sets stay")
        #expect(try attributes("/home/core/.ssh/authorized_keys") == (0o600, 500, 500))
        #expect(try attributes("/home/core/.ssh").mode == 0o700)
        #expect(throws: ApplyError.self) { try sets.replace(set: "coreos-cloudinit", with: ["ssh-ed25519 garbage"]) }
    }
}
