import Codecs
import Testing
@testable import CloudConfig

@Suite struct YAMLTypingTests {
    @Test(arguments: [
        ("off", YAMLScalar.Kind.bool(false)), ("yes", .bool(true)), ("Y", .bool(true)), ("~", .null),
        ("0644", .int(420)), ("644", .int(644)), ("0x1F", .int(31)), ("-12", .int(-12)), ("1.5", .float(1.5)),
        ("1.2.3.4", .string), ("4001", .int(4001)), ("192.168.0.1:4001", .string), ("08", .string),
    ])
    func plainScalarsFollowYAML11(text: String, kind: YAMLScalar.Kind) throws {
        let node = try #require(try YAMLLoader.load("v: \(text)\n"))
        #expect(node.member("v")?.value.scalar?.kind == kind)
        #expect(node.member("v")?.value.scalar?.text == text, "the text is kept for string fields")
    }

    @Test func quotedScalarsAreStrings() throws {
        let node = try #require(try YAMLLoader.load("v: \"0644\"\nw: 'yes'\n"))
        #expect(node.member("v")?.value.scalar?.kind == .string)
        #expect(node.member("w")?.value.scalar?.kind == .string)
    }
}

@Suite struct EncodingTests {
    @Test func base64() {
        #expect(Base64.decode(Array("aGVsbG8gd29ybGQ=".utf8)) == Array("hello world".utf8))
        #expect(Base64.decode(Array("aGVs\nbG8=".utf8)) == Array("hello".utf8), "line breaks are skipped")
        #expect(Base64.decode(Array("aGVsbG8".utf8)) == nil, "padding is required")
        #expect(Base64.decode(Array("aG=sbG8=".utf8)) == nil, "padding only at the end")
        #expect(Base64.decode(Array("a!==".utf8)) == nil)
        for text in ["", "a", "ab", "abc", "abcd"] {
            #expect(Base64.decode(Array(Base64.encode(Array(text.utf8)).utf8)) == Array(text.utf8))
        }
    }

    @Test func everyEncodingName() throws {
        // `printf hello | gzip -n | base64`
        let gzipBase64 = Array("H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==".utf8)
        for name in ["gz+b64", "gz+base64", "gzip+b64", "gzip+base64"] {
            #expect(ContentEncoding(name)?.decode(gzipBase64) == Array("hello".utf8), "\(name)")
        }
        for name in ["b64", "base64"] { #expect(ContentEncoding(name)?.decode(Array("aGVsbG8=".utf8)) == Array("hello".utf8)) }
        let gzip = try #require(Base64.decode(gzipBase64))
        for name in ["gz", "gzip"] { #expect(ContentEncoding(name)?.decode(gzip) == Array("hello".utf8)) }
        #expect(ContentEncoding("")?.decode(Array("as is".utf8)) == Array("as is".utf8))
        #expect(ContentEncoding("zip") == nil)
        #expect(Gzip.decompress(Array(gzip.dropLast(4))) == nil, "a truncated stream is refused")
    }

    @Test func binaryContentIsDecodedByYAML() throws {
        let config = try CloudConfig(parsing: """
            write_files:
              - path: /etc/a
                encoding: gzip
                content: !!binary |
                  H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==
            """)
        #expect(config.writeFiles.first?.content == Array("hello".utf8))
    }
}

@Suite struct DecodingTests {
    @Test func permissionsAreOctalWithOrWithoutLeadingZero() throws {
        let config = try CloudConfig(parsing: """
            write_files:
              - {path: /a, permissions: 0644}
              - {path: /b, permissions: 755}
              - {path: /c, permissions: "01744"}
              - {path: /d}
              - {path: /e, permissions: 0800}
            """)
        #expect(config.writeFiles.map(\.mode) == [0o644, 0o755, 0o1744, 0o644, nil])
    }

    @Test func unitsAndDropIns() throws {
        let config = try CloudConfig(parsing: """
            coreos:
              units:
                - name: a.service
                  runtime: true
                  enable: yes
                  command: start
                  drop-ins:
                    - {name: 10-a.conf, content: "[Service]\\nUser=core\\n"}
                    - {name: missing-content.conf}
                - name: eth.network
                  content: "[Match]\\n"
                - command: start
            """)
        #expect(config.units.count == 2, "a unit without a name is skipped")
        let unit = try #require(config.units.first)
        #expect(unit.runtime && unit.enable && unit.command == "start")
        #expect(unit.dropIns == [Unit.DropIn(name: "10-a.conf", content: "[Service]\nUser=core\n")])
        #expect(unit.directory == "/run/systemd/system")
        #expect(config.units[1].directory == "/etc/systemd/network")
    }
}

@Suite struct GeneratedFileTests {
    @Test func dropInLinesFollowTheSchemaOrderAndSkipZeroValues() throws {
        let config = try CloudConfig(parsing: """
            coreos:
              etcd:
                peer-bind-addr: 0.0.0.0:7001
                name: node1
                discovery: http://d/abc
                snapshot: false
                snapshot-count: 0
                verbose: true
                cluster-remove-delay: 0.5
              fleet:
                public-ip: 10.0.0.1
                etcd-request-timeout: 2.0
                metadata: "region=x"
              locksmith:
                window-start: "Sun 1:00"
                group: g
            """)
        #expect(GeneratedFiles.dropIn(config.fleet.environment) == """
            [Service]
            Environment="FLEET_ETCD_REQUEST_TIMEOUT=2"
            Environment="FLEET_METADATA=region=x"
            Environment="FLEET_PUBLIC_IP=10.0.0.1"

            """)
        #expect(config.etcd.environment.map(\.name) == [
            "ETCD_CLUSTER_REMOVE_DELAY", "ETCD_DISCOVERY", "ETCD_NAME", "ETCD_PEER_BIND_ADDR", "ETCD_VERBOSE",
        ])
        #expect(config.etcd["cluster_remove_delay"] == "0.5")
        #expect(config.locksmith.environment.map(\.name) == ["LOCKSMITHD_GROUP", "REBOOT_WINDOW_START"])
    }

    @Test func snapshotCountNames() throws {
        let config = try CloudConfig(parsing: "coreos:\n  etcd: {snapshot-count: 5}\n  etcd2: {snapshot-count: 5}\n")
        #expect(config.etcd.environment.first?.name == "ETCD_SNAPSHOTCOUNT")
        #expect(config.etcd2.environment.first?.name == "ETCD_SNAPSHOT_COUNT")
    }

    /// The article's etcd section: its own lines, then what etcd 3.4 needs for the same meaning.
    @Test func etcdDropInForTheArticle() throws {
        let config = try CloudConfig(parsing: """
            coreos:
              etcd:
                name: coreos1
                discovery: http://10.0.2.2:2379/v2/keys/discovery/abc
                addr: 192.168.0.101:4001
                peer-addr: 192.168.0.101:7001
                bind-addr: 0.0.0.0
            """)
        #expect(GeneratedFiles.etcdDropIn(config.etcd) == """
            [Service]
            Environment="ETCD_ADDR=192.168.0.101:4001"
            Environment="ETCD_BIND_ADDR=0.0.0.0"
            Environment="ETCD_DISCOVERY=http://10.0.2.2:2379/v2/keys/discovery/abc"
            Environment="ETCD_NAME=coreos1"
            Environment="ETCD_PEER_ADDR=192.168.0.101:7001"
            Environment="ETCD_ADVERTISE_CLIENT_URLS=http://192.168.0.101:4001"
            Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:4001"
            Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://192.168.0.101:7001"
            Environment="ETCD_LISTEN_PEER_URLS=http://0.0.0.0:7001"
            Environment="ETCD_ENABLE_V2=true"

            """)
    }

    @Test func etcdWithoutBindAddressListensOnTheAdvertisedOneAndLocalhost() throws {
        let config = try CloudConfig(parsing: "coreos:\n  etcd:\n    name: a\n    addr: 10.0.0.5:2379\n    peer-addr: 10.0.0.5:2380\n")
        let lines = try #require(GeneratedFiles.etcdDropIn(config.etcd)).split(separator: "\n")
        #expect(lines.contains(#"Environment="ETCD_LISTEN_CLIENT_URLS=http://10.0.0.5:2379,http://127.0.0.1:2379""#))
        #expect(lines.contains(#"Environment="ETCD_LISTEN_PEER_URLS=http://10.0.0.5:2380""#))
        #expect(lines.contains(#"Environment="ETCD_INITIAL_CLUSTER=a=http://10.0.0.5:2380""#), "a one-member cluster without discovery")
        #expect(GeneratedFiles.etcdDropIn(try CloudConfig(parsing: "hostname: a\n").etcd) == nil)
    }

    @Test func updateConf() {
        let base = "SERVER=https://example.invalid/update\nGROUP=stable\nREBOOT_STRATEGY=awesome\n"
        #expect(GeneratedFiles.updateConf(base: base, update: ["reboot_strategy": "etcd-lock"])
                == "SERVER=https://example.invalid/update\nGROUP=stable\nREBOOT_STRATEGY=etcd-lock\n")
        #expect(GeneratedFiles.updateConf(base: nil, update: ["server": "s", "group": "beta"]) == "GROUP=beta\nSERVER=s\n")
        #expect(GeneratedFiles.updateConf(base: base, update: [:]) == nil)
    }

    @Test func oemRelease() {
        #expect(GeneratedFiles.oemRelease(["id": "qemu", "name": "QEMU", "version_id": "1", "home_url": "h"])
                == "ID=qemu\nVERSION_ID=1\nNAME=\"QEMU\"\nHOME_URL=\"h\"\n")
        #expect(GeneratedFiles.oemRelease(["name": "x"]) == nil)
    }

    @Test func flannelOptionsHaveNoTrailingNewline() throws {
        let config = try CloudConfig(parsing: "coreos:\n  flannel:\n    interface: eth1\n    ip-masq: \"true\"\n")
        #expect(GeneratedFiles.flannelOptions(config.flannel) == "FLANNELD_IP_MASQ=true\nFLANNELD_IFACE=eth1")
    }
}

@Suite struct SubstitutionTests {
    @Test func tokensEscapesAndMissingValues() {
        let substitutions = Substitutions(values: ["private_ipv4": "10.0.0.2"])
        #expect(substitutions.apply(to: "addr: $private_ipv4:4001") == "addr: 10.0.0.2:4001")
        #expect(substitutions.apply(to: "addr: $public_ipv4:4001") == "addr: :4001", "unknown values become empty, as upstream")
        #expect(substitutions.apply(to: #"x: \$private_ipv4"#) == "x: $private_ipv4")
        #expect(substitutions.apply(to: "x: $HOME and $") == "x: $HOME and $")
    }
}

@Suite struct KeyMergingTests {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK65C+3QBixJtICDg9fEgrGyZzZiQTfdHQTD9MkPm/fi new@host"
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgqDoE5eTexWjguOjgW3A1TKNRKNCdLN9pyGN3tiTFd old@host"

    func keys(_ text: String) throws -> [String] { try CloudConfig(parsing: text).sshAuthorizedKeys }

    @Test func appendsAListWhenThereIsNone() throws {
        let merged = try KeyMerging.adding([key], to: "#cloud-config\n# my comment\nhostname: a\n")
        #expect(try keys(merged) == [key])
        #expect(merged.hasPrefix("#cloud-config\n# my comment\nhostname: a\n"), "the document is kept as written")
    }

    @Test func extendsBlockFlowAndEmptyLists() throws {
        let block = "#cloud-config\nssh_authorized_keys:\n    - \(other)\nhostname: a\n"
        #expect(Set(try keys(KeyMerging.adding([key], to: block))) == [key, other])
        let flow = "#cloud-config\nssh_authorized_keys: [\"\(other)\"]  # mine\nhostname: a\n"
        #expect(Set(try keys(KeyMerging.adding([key], to: flow))) == [key, other])
        let empty = "#cloud-config\nssh_authorized_keys:\nhostname: a\n"
        #expect(try keys(KeyMerging.adding([key], to: empty)) == [key])
        #expect(try CloudConfig(parsing: KeyMerging.adding([key], to: block)).hostname == "a")
    }

    @Test func addsNothingTwiceAndRefusesNonLists() throws {
        let block = "#cloud-config\nssh_authorized_keys:\n  - \(key)\n"
        #expect(try KeyMerging.adding([key], to: block) == block)
        #expect(throws: KeyMerging.Failure.self) { try KeyMerging.adding([key], to: "#cloud-config\nssh_authorized_keys: oops\n") }
    }

    @Test func keyChecks() {
        #expect(AuthorizedKey.problem(in: key) == nil)
        #expect(AuthorizedKey.problem(in: "no-pty \(key)") == nil, "options before the key are allowed")
        #expect(AuthorizedKey.problem(in: "ssh-ed25519") != nil)
        #expect(AuthorizedKey.problem(in: "ssh-ed25519 AAAA!!!") != nil)
        #expect(AuthorizedKey.problem(in: "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIK65C+3QBixJtICDg9fEgrGyZzZiQTfdHQTD9MkPm/fi") != nil,
                "the type inside the key data must match")
        #expect(AuthorizedKey.problem(in: "hello world") != nil)
    }
}
