import Testing
@testable import CloudConfig

/// coreos-cloudinit's validation rules (specs/cloud-config.md §4), with the header's line counted.
@Suite struct ValidatorTests {
    func entries(_ body: String) -> [String] {
        Validator.validate(Array(("#cloud-config\n" + body).utf8)).entries.map(\.description)
    }

    @Test func headerRules() {
        #expect(Validator.validate(Array("#cloud-config\nhostname: a\n".utf8)).entries.isEmpty)
        #expect(Validator.validate(Array("#cloud-config \r\nhostname: a\n".utf8)).entries.isEmpty, "trailing space and CRLF are fine")
        #expect(Validator.validate(Array("#!/bin/bash\necho hi\n".utf8)).entries.isEmpty)
        #expect(Validator.validate([]).entries.isEmpty)
        #expect(Validator.validate(Array(#"{"ignition": {"version": "2.0.0"}}"#.utf8)).entries.isEmpty)
        let bad = Validator.validate(Array(" #cloud-config\nhostname: a\n".utf8))
        #expect(bad.entries.map(\.description) == [##"line 1: error: must be "#cloud-config" or begin with "#!""##])
        #expect(bad.hasErrors)
        #expect(Validator.validate(Array("hostname: a\n".utf8)).hasErrors)
    }

    @Test func gzippedUserDataIsReadAfterGunzip() throws {
        // `printf '#cloud-config\nfoo: 1\n' | gzip -n`
        let gz: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x53, 0x4e, 0xce, 0xc9, 0x2f, 0x4d,
                           0xd1, 0x4d, 0xce, 0xcf, 0x4b, 0xcb, 0x4c, 0xe7, 0x4a, 0xcb, 0xcf, 0xb7, 0x52, 0x30, 0xe4, 0x02,
                           0x00, 0xc7, 0x9b, 0xd7, 0x11, 0x15, 0x00, 0x00, 0x00]
        #expect(Validator.validate(gz).entries.map(\.description) == [#"line 2: warning: unrecognized key "foo""#])
    }

    @Test func syntaxErrorsCarryTheirLine() {
        let result = entries("hostname: a\nusers:\n  - name: b\n   bad: [\n")
        #expect(result.count == 1)
        #expect(result.first?.hasPrefix("line ") == true)
        #expect(result.first?.contains("error:") == true)
    }

    @Test func unknownKeysAtAnyDepthAndBothSpellings() {
        #expect(entries("hostnme: a\ncoreos:\n  units:\n    - name: a.service\n      comand: start\n") == [
            #"line 2: warning: unrecognized key "hostnme""#,
            #"line 6: warning: unrecognized key "comand""#,
        ])
        #expect(entries("coreos:\n  update:\n    reboot-strategy: reboot\nwrite-files:\n  - path: /etc/a\n").isEmpty)
    }

    @Test func deprecatedKeys() {
        #expect(entries("coreos:\n  etcd:\n    name: a\n    proxy: on\n  fleet:\n    public-ip: 1.2.3.4\n") == [
            #"line 5: warning: deprecated key "proxy" (etcd2 options no longer work for etcd)"#,
            #"line 6: warning: deprecated key "fleet" (fleet is no longer shipped in this image)"#,
        ])
        #expect(entries("coreos:\n  etcd:\n    name: a\n").isEmpty, "etcd ships in this image, so it is not deprecated")
    }

    @Test func wrongTypes() {
        #expect(entries("hostname: [a]\nssh_authorized_keys: key\ncoreos:\n  units:\n    - name: a\n      enable: maybe\n    - b\n  etcd:\n    snapshot-count: many\n") == [
            #"line 2: warning: incorrect type for "hostname" (want string)"#,
            #"line 3: warning: incorrect type for "ssh_authorized_keys" (want []string)"#,
            #"line 7: warning: incorrect type for "enable" (want bool)"#,
            #"line 8: warning: incorrect type for "units[1]" (want struct)"#,
            #"line 10: warning: incorrect type for "snapshot-count" (want int)"#,
        ])
        // A string field takes any scalar; a float field takes an int.
        #expect(entries("hostname: 42\ncoreos:\n  etcd:\n    http-read-timeout: 3\n    verbose: yes\n").isEmpty)
    }

    @Test func invalidValues() {
        #expect(entries("""
            write_files:
              - path: /etc/a
                encoding: rot13
                permissions: 0800
              - path: /etc/b
                permissions: rwxr--r--
            coreos:
              units:
                - name: a.service
                  command: begin
              update:
                reboot-strategy: false
              locksmith:
                window-start: Thursday 04:00
                window-length: 1 hour
              etcd2:
                proxy: maybe

            """) == [
            "line 4: error: invalid value rot13",
            "line 5: error: invalid value 0800",
            "line 7: error: invalid value rwxr--r--",
            "line 11: error: invalid value begin",
            "line 13: error: invalid value false",
            "line 15: error: invalid value Thursday 04:00",
            "line 16: error: invalid value 1 hour",
            #"line 17: warning: deprecated key "etcd2" (etcd2 is no longer shipped in this image; use etcd)"#,
            "line 18: error: invalid value maybe",
        ])
    }

    @Test func validValuesPass() {
        #expect(entries("""
            write_files:
              - path: /etc/a
                permissions: 644
              - path: /etc/b
                permissions: "01744"
                encoding: gzip+base64
                content: H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==
            coreos:
              units: [{name: a.service, command: reload-or-try-restart}]
              update: {reboot-strategy: "off"}
              locksmith: {window-start: "Sun 0:0", window-length: "1h30m"}

            """).isEmpty)
        // Unquoted `off` is YAML 1.1's false, but a string field keeps the text "off".
        #expect(entries("coreos:\n  update:\n    reboot-strategy: off\n").isEmpty)
    }

    @Test func contentThatDoesNotDecode() {
        #expect(entries("write_files:\n  - path: /etc/a\n    encoding: b64\n    content: not base64!\n") == [
            #"line 5: error: content cannot be decoded as "b64""#,
        ])
        #expect(entries("write_files:\n  - path: /etc/a\n    encoding: gz\n    content: plain text\n") == [
            #"line 5: error: content cannot be decoded as "gz""#,
        ])
    }

    @Test func filesUnderUsrAreRefused() {
        #expect(entries("write_files:\n  - path: /usr/lib/a\n  - path: /etc/../usr/b\n  - path: /usrlocal/c\n  - path: /var/usr/d\n") == [
            "line 3: error: file cannot be written to a read-only filesystem",
            "line 4: error: file cannot be written to a read-only filesystem",
            "line 5: error: file cannot be written to a read-only filesystem",
        ])
    }

    @Test func writeFilesUnderCoreos() {
        #expect(entries("coreos:\n  write_files:\n    - path: /etc/a\n") == [
            #"line 3: warning: unrecognized key "write_files""#,
            "line 3: info: write_files doesn't belong under coreos",
        ])
    }

    @Test func discoveryURL() {
        #expect(entries("coreos:\n  etcd:\n    discovery: https://discovery.example/abc\n").isEmpty)
        #expect(entries("coreos:\n  etcd:\n    discovery: not a url\n") == ["line 4: warning: discovery URL is not valid"])
        #expect(entries("coreos:\n  etcd2:\n    discovery: not a url\n") == [
            "line 3: warning: deprecated key \"etcd2\" (etcd2 is no longer shipped in this image; use etcd)",
        ], "etcd2's discovery is not checked, as upstream")
    }

    @Test func theArticlesConfigIsValid() {
        #expect(entries("""
            hostname: coreos1
            coreos:
              etcd:
                name: coreos1
                discovery: http://127.0.0.1:2379/v2/keys/discovery/abc
                addr: 192.168.0.101:4001
                peer-addr: 192.168.0.101:7001
                bind-addr: 0.0.0.0
              units:
                - name: etcd.service
                  command: start
                - name: docker.service
                  command: start
                - name: fleet.service
                  command: start
            ssh_authorized_keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK65C+3QBixJtICDg9fEgrGyZzZiQTfdHQTD9MkPm/fi me
            write_files:
              - path: /etc/systemd/network/static.network
                permissions: 0644
                content: |
                  [Match]
                  Name=ens4
                  [Network]
                  Address=192.168.0.101/24

            """).isEmpty)
    }
}
