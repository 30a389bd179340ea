import Foundation
import XCTest

/// `coresdk validate` and `coresdk inject cloud-config` as a user runs them, and the image's agent
/// applying the injected config at boot, checked over SSH on the running machine.
final class CloudConfigEndToEndTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-cc-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { [directory] in try? FileManager.default.removeItem(at: directory!) }
    }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func coresdk(_ arguments: [String]) throws -> CoreSDKRunner.Run {
        try CoreSDKRunner.launch([CoreSDKRunner.binary.path] + arguments)
    }

    func testValidateReportsLikeCoreosCloudinit() throws {
        let file = try write("cc.yml", """
            #cloud-config
            hostname: a
            coreos:
              units:
                - name: a.service
                  command: begin
              etcd:
                discovery: not a url
            write_files:
              - path: /usr/share/x
            bogus: 1

            """)
        let text = try coresdk(["validate", "cloud-config", file.path])
        XCTAssertEqual(text.status, 1, "an error means exit status 1")
        XCTAssertEqual(text.standardOutput.split(separator: "\n").map(String.init), [
            "\(file.path):6: error: invalid value begin",
            "\(file.path):8: warning: discovery URL is not valid",
            "\(file.path):10: error: file cannot be written to a read-only filesystem",
            "\(file.path):11: warning: unrecognized key \"bogus\"",
        ])
        let json = try coresdk(["validate", "cloud-config", "--json", file.path])
        XCTAssertEqual(json.status, 1)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["kind"] as? String }, ["error", "warning", "error", "warning"])
        XCTAssertEqual(entries.map { $0["line"] as? Int }, [6, 8, 10, 11])
        XCTAssertEqual(entries.first?["message"] as? String, "invalid value begin")

        let warningsOnly = try write("ok.yml", "#cloud-config\nhostname: a\nbogus: 1\n")
        XCTAssertEqual(try coresdk(["validate", "cloud-config", warningsOnly.path]).status, 0, "warnings alone pass")
        let clean = try coresdk(["validate", "cloud-config", "--json", try write("clean.yml", "#cloud-config\nhostname: a\n").path])
        XCTAssertEqual(clean.status, 0)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(clean.standardOutput.utf8)) as? [Any])?.count, 0)
        XCTAssertNotEqual(try coresdk(["validate", "cloud-config", directory.appendingPathComponent("missing.yml").path]).status, 0)
    }

    func testInjectRefusesBadInputAndLeavesTheImageAlone() throws {
        let image = directory.appendingPathComponent("image.img")
        try CoreSDKRunner.run(["cp", try ImageFixture.file("coreos_production_qemu_image.img").path, image.path])
        let before = try CoreSDKRunner.run(["sha256sum", image.path]).standardOutput
        let bad = try write("bad.yml", "#cloud-config\nwrite_files:\n  - path: /etc/a\n    permissions: 999\n")
        let refused = try coresdk(["inject", "cloud-config", image.path, bad.path, "--json"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.standardError.contains("bad.yml:4: error: invalid value 999"), refused.standardError)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(refused.standardOutput.utf8)) as? [String: Any], "--json reports the error as JSON")
        let key = try write("key.pub", "ssh-rsa AAAA-not-a-key user@host\n")
        let badKey = try coresdk(["inject", "cloud-config", image.path, try write("ok.yml", "#cloud-config\n").path, "--ssh-key", key.path])
        XCTAssertNotEqual(badKey.status, 0)
        XCTAssertTrue(badKey.standardError.contains("key.pub:1: not an SSH public key"), badKey.standardError)
        XCTAssertEqual(try CoreSDKRunner.run(["sha256sum", image.path]).standardOutput, before, "the image is untouched")
    }

    /// The issue's end-to-end check: hostname, an SSH key, files with modes and owners, a unit with
    /// content and `command: start`, and etcd settings, on a qcow2 image booted with `coresdk qemu`.
    func testInjectedConfigIsAppliedAtBoot() throws {
        let image = directory.appendingPathComponent("machine.qcow2")
        try CoreSDKRunner.run(["cp", try ImageFixture.file("coreos_production_qemu_image.img").path, image.path])
        let key = directory.appendingPathComponent("id_ed25519")
        try CoreSDKRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cc-e2e", "-f", key.path])
        let config = try write("cloud-config.yml", """
            #cloud-config
            hostname: coreos1
            manage_etc_hosts: localhost
            users:
              - name: ops
                groups: [sudo]
                shell: /bin/bash
            write_files:
              - path: /etc/coresdk-test/secret
                permissions: "0600"
                owner: core:core
                content: |
                  only core reads this
              - path: /var/lib/coresdk-test/hello.gz.b64
                encoding: gzip+base64
                content: H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==
              - path: /etc/coresdk-test/script
                permissions: 0750
                owner: ops
                content: "#!/bin/sh\\necho $private_ipv4\\n"
            coreos:
              etcd:
                name: coreos1
                discovery: http://10.0.2.2:2379/v2/keys/discovery/e2e
                addr: 192.168.0.101:4001
                peer-addr: 192.168.0.101:7001
                bind-addr: 0.0.0.0
              update:
                reboot-strategy: "off"
              units:
                - name: hello.service
                  content: |
                    [Service]
                    Type=oneshot
                    RemainAfterExit=yes
                    ExecStart=/bin/sh -c 'echo Hello World > /run/hello'
                  command: start
                - name: fleet.service
                  command: start

            """)
        let injected = try coresdk(["inject", "cloud-config", image.path, config.path, "--ssh-key", key.path + ".pub", "--json"])
        XCTAssertEqual(injected.status, 0, injected.standardError)
        XCTAssertTrue(injected.standardOutput.contains("\"keysAdded\" : 1"), injected.standardOutput)

        let machine = try BootedMachine(disk: image, key: key)
        try machine.waitForConsole("login:", timeout: 300)
        func run(_ command: String) throws -> String {
            try machine.ssh(command).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // The agent runs beside the boot; wait until it has finished.
        _ = try run(#"for i in $(seq 60); do systemctl is-active -q 'system-cloudinit@usr-share-oem-cloud\x2dconfig.yml.service' && break; sleep 2; done"#)
        XCTAssertEqual(try run("hostname"), "coreos1")
        XCTAssertEqual(try run("cat /etc/hostname"), "coreos1")
        XCTAssertEqual(try run("cat /etc/hosts"), "127.0.0.1 coreos1")
        XCTAssertEqual(try run("stat -c '%a %U %G' /etc/coresdk-test/secret"), "600 core core")
        XCTAssertEqual(try run("cat /etc/coresdk-test/secret"), "only core reads this")
        XCTAssertEqual(try run("stat -c '%a %U' /etc/coresdk-test/script"), "750 ops")
        XCTAssertEqual(try run("sudo cat /etc/coresdk-test/script"), "#!/bin/sh\necho \(try run("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1"))",
                       "$private_ipv4 becomes the machine's address")
        XCTAssertEqual(try run("cat /var/lib/coresdk-test/hello.gz.b64"), "hello")
        XCTAssertEqual(try run("id -nG ops"), "ops sudo")
        XCTAssertTrue(try run("cat ~/.ssh/authorized_keys.d/coreos-cloudinit").hasSuffix("cc-e2e"))
        XCTAssertEqual(try run("stat -c '%a %U' ~/.ssh/authorized_keys"), "600 core")
        XCTAssertEqual(try run("systemctl is-active hello.service"), "active")
        XCTAssertEqual(try run("cat /run/hello"), "Hello World")
        let dropIn = try run("cat /run/systemd/system/etcd.service.d/20-cloudinit.conf")
        for line in ["[Service]", #"Environment="ETCD_NAME=coreos1""#, #"Environment="ETCD_ADDR=192.168.0.101:4001""#,
                     #"Environment="ETCD_PEER_ADDR=192.168.0.101:7001""#, #"Environment="ETCD_BIND_ADDR=0.0.0.0""#,
                     #"Environment="ETCD_DISCOVERY=http://10.0.2.2:2379/v2/keys/discovery/e2e""#,
                     #"Environment="ETCD_ADVERTISE_CLIENT_URLS=http://192.168.0.101:4001""#,
                     #"Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:4001""#,
                     #"Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://192.168.0.101:7001""#,
                     #"Environment="ETCD_LISTEN_PEER_URLS=http://0.0.0.0:7001""#] {
            XCTAssertTrue(dropIn.split(separator: "\n").contains(Substring(line)), "\(line) missing from\n\(dropIn)")
        }
        XCTAssertEqual(try run("readlink /run/systemd/system/locksmithd.service"), "/dev/null", "reboot-strategy off masks locksmithd")
        XCTAssertEqual(try run("cat /etc/coreos/update.conf"), "GROUP=stable\nREBOOT_STRATEGY=off",
                       "the image's /usr/share/coreos/update.conf with the strategy added")
        let journal = try run("sudo journalctl -b -u 'system-cloudinit@*' --no-pager -o cat")
        XCTAssertTrue(journal.contains("Failed to start fleet.service"), "a missing unit is reported in the journal\n\(journal)")
        XCTAssertEqual(try run("systemctl list-units --state=failed --no-legend --plain"), "", "and it fails nothing")
        try machine.powerOff()
    }
}
