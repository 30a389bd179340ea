import Omaha
import XCTest

/// Requests as update_engine writes them (payload doc §5.2) and as the server must read them.
final class OmahaRequestTests: XCTestCase {
    /// The spec's §5.2 example with its placeholders filled in, exactly as update_engine lays it
    /// out (including the space it leaves before the `>` of `<app>`).
    static let specExample = """
        <?xml version="1.0" encoding="UTF-8"?>
        <request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
          <os version="Chateau" platform="CoreOS" sp="4000.0.0_x86_64"></os>
          <app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="4000.0.0" track="stable" bootid="{1c9ba0a4-4d1a-4a4c-9d0b-6c5e4a3b2f10}" oem="qemu" oemversion="" alephversion="3900.0.0" machineid="0123456789abcdef0123456789abcdef" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
            <ping active="1"></ping>
            <updatecheck></updatecheck>
            <event eventtype="3" eventresult="2" previousversion=""></event>
          </app>
        </request>

        """

    /// The same request built by the in-image agent.
    static let specModel = OmahaRequest(
        version: "update_engine-0.4.10", os: .init(servicePack: "4000.0.0_x86_64"),
        apps: [.init(version: "4000.0.0", bootID: "{1c9ba0a4-4d1a-4a4c-9d0b-6c5e4a3b2f10}", oem: "qemu", alephVersion: "3900.0.0",
                     machineID: "0123456789abcdef0123456789abcdef", board: "amd64-usr", ping: .init(), updateCheck: true,
                     events: [.updateCheck(previousVersion: "")])])

    func testReadsTheSpecExample() throws {
        let request = try OmahaRequest(parsing: Self.specExample)
        XCTAssertEqual(request, Self.specModel)
        let app = try XCTUnwrap(request.apps.first)
        XCTAssertEqual(app.appID, "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}", "kept as sent")
        XCTAssertEqual(app.normalizedAppID, "e96281a6-d1af-4bde-9a0a-97b76e56dc57", "as Nebraska stores it")
        XCTAssertEqual(app.machineID, "0123456789abcdef0123456789abcdef")
        XCTAssertEqual(app.events, [OmahaEvent(type: 3, result: 2, previousVersion: "")])
    }

    /// What the agent sends differs from update_engine's only by the stray space before `>`.
    func testWritesUpdateEnginesShape() {
        XCTAssertEqual(Self.specModel.serialized(), Self.specExample.replacingAll("delta_okay=\"false\" >", with: "delta_okay=\"false\">"))
    }

    func testEveryRequestKindReadsBackUnchanged() throws {
        var app = Self.specModel.apps[0]
        app.machineAlias = "rack 4 & <row 2>"
        let kinds: [(ping: OmahaRequest.Ping?, updateCheck: Bool, events: [OmahaEvent])] = [
            (.init(), true, [.rolledBack]),
            (.init(), false, []),
            (nil, false, [.downloadStarted]),
            (nil, false, [.downloadFinished, .installed]),
            (nil, false, [.failed(errorCode: OmahaEvent.ErrorCode.testServerFlag | 10)]),
            (.init(isActive: false), true, [.failed(errorCode: 35, result: OmahaEvent.EventResult.deferred)]),
        ]
        for kind in kinds {
            app.ping = kind.ping
            app.updateCheck = kind.updateCheck
            app.events = kind.events
            var request = Self.specModel
            request.installSource = OmahaRequest.InstallSource.onDemand
            request.apps = [app, OmahaRequest.App(appID: "{other}", version: "1.0.0", machineID: "m", board: "arm64-usr")]
            XCTAssertEqual(try OmahaRequest(parsing: request.serialized()), request)
        }
    }

    /// update_engine's event lines (flatcar/update_engine:src/update_engine/omaha_request_action.cc).
    func testEventsAreWrittenAsUpdateEngineWritesThem() {
        func line(_ event: OmahaEvent) -> String? {
            var request = Self.specModel
            request.apps[0].events = [event]
            return request.serialized().split(separator: "\n").first { $0.contains("<event") }
                .map { String($0.drop { $0 == " " }) }
        }
        XCTAssertEqual(line(.rolledBack), #"<event eventtype="3" eventresult="0" errorcode="44"></event>"#)
        XCTAssertEqual(line(.downloadStarted), #"<event eventtype="13" eventresult="1"></event>"#)
        XCTAssertEqual(line(.updateCheck(previousVersion: "3999.0.0")), #"<event eventtype="3" eventresult="2" previousversion="3999.0.0"></event>"#)
    }

    /// flatcar/ue-rs:src/testdata/omaha-request-example.xml (app ID without braces, no machinealias)
    /// and coreos/go-omaha:fixtures/update-engine/update/request.xml (ChromeOS's update_engine, with
    /// attributes and elements this model does not know).
    func testReadsRealClientsRequests() throws {
        let ueRs = try OmahaRequest(parsing: """
            <?xml version="1.0" encoding="UTF-8"?>
            <request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
              <os version="Chateau" platform="CoreOS" sp="2512.2.0_x86_64"></os>
              <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" version="1.2.3" track="alpha" bootid="{965fb4c5-ad3e-4eb7-a4c2-ca0c0e31ec84}" oem="ami" oemversion="0.1.1-r1" alephversion="1688.5.3" machineid="abce671d61774703ac7be60715220bfe" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
                <ping active="1"></ping>
                <updatecheck></updatecheck>
                <event eventtype="3" eventresult="1"></event>
              </app>
            </request>
            """)
        XCTAssertEqual(ueRs.apps.map(\.normalizedAppID), ["e96281a6-d1af-4bde-9a0a-97b76e56dc57"])
        XCTAssertEqual(ueRs.apps.map(\.track), ["alpha"])
        XCTAssertEqual(ueRs.apps.map(\.machineAlias), [""])
        XCTAssertEqual(ueRs.apps.first?.events, [.installed])

        let chromeOS = try OmahaRequest(parsing: """
            <?xml version="1.0" encoding="UTF-8"?>
            <request protocol="3.0" version="ChromeOSUpdateEngine-0.1.0.0" updaterversion="ChromeOSUpdateEngine-0.1.0.0" installsource="ondemandupdate" ismachine="1">
            <os version="Indy" platform="Chrome OS" sp="ForcedUpdate_x86_64"></os>
            <app appid="{87efface-864d-49a5-9bb3-4b050a7c227a}" bootid="{7D52A1CC-7066-40F0-91C7-7CB6A871BFDE}" groupid="{82D95689-3BA3-46A1-87D2-17B3FFF85988}" previousbootid="{8BDE4C4D-9083-4D61-B41C-3253212C0C37}" oem="ec3000" version="ForcedUpdate" track="dev-channel" from_track="developer-build" lang="en-US" board="amd64-generic" hardware_class="" delta_okay="false" >
            <ping active="1" a="-1" r="-1"></ping>
            <updatecheck targetversionprefix=""></updatecheck>
            <event eventtype="3" eventresult="2" previousversion=""></event>
            </app>
            </request>
            """)
        XCTAssertEqual(chromeOS.installSource, OmahaRequest.InstallSource.onDemand)
        XCTAssertEqual(chromeOS.os.platform, "Chrome OS")
        XCTAssertEqual(chromeOS.apps.first?.ping, .init(isActive: true))
        XCTAssertEqual(chromeOS.apps.first?.updateCheck, true)
        XCTAssertEqual(chromeOS.apps.first?.machineID, "", "absent attributes read as empty")
    }

    func testNormalizedAppIDIsLowercaseWithoutBraces() {
        let ids = ["{E96281A6-D1AF-4BDE-9A0A-97B76E56DC57}", "e96281a6-d1af-4bde-9a0a-97b76e56dc57", "{e96281a6-d1af-4bde-9a0a-97b76e56dc57"]
        XCTAssertEqual(ids.map { OmahaRequest.App(appID: $0, version: "", machineID: "", board: "").normalizedAppID },
                       ["e96281a6-d1af-4bde-9a0a-97b76e56dc57", "e96281a6-d1af-4bde-9a0a-97b76e56dc57", "{e96281a6-d1af-4bde-9a0a-97b76e56dc57"])
    }

    /// The error says what is wrong and which status the server answers with.
    func testRefusesWhatIsNotAnOmaha3Request() {
        let app = #"<app appid="{x}" version="1.0.0"></app>"#
        let cases: [(body: String, kind: OmahaError.Kind, status: String, message: String)] = [
            ("<response protocol=\"3.0\">\(app)</response>", .unsupportedProtocol, "error-unsupportedProtocol",
             "the root element is <response>, not an Omaha <request>"),
            ("<request protocol=\"2.0\">\(app)</request>", .unsupportedProtocol, "error-unsupportedProtocol",
             "the request has protocol \"2.0\"; only Omaha 3.0 is spoken"),
            ("<request>\(app)</request>", .unsupportedProtocol, "error-unsupportedProtocol",
             "the request has no protocol; only Omaha 3.0 is spoken"),
            ("<request protocol=\"3.0\"><os/></request>", .invalidContent, "error-unsupportedProtocol", "the request has no <app>"),
            ("<request protocol=\"3.0\">\(app)<app version=\"1\"/></request>", .invalidAppID, "error-invalidAppId",
             "request/app[2] has no appid"),
            ("<request protocol=\"3.0\"><app appid=\"\"/></request>", .invalidAppID, "error-invalidAppId", "request/app[1] has no appid"),
            ("<request protocol=\"3.0\" ismachine=\"yes\">\(app)</request>", .invalidContent, "error-unsupportedProtocol",
             "request@ismachine is \"yes\", not an integer"),
            ("<request protocol=\"3.0\"><app appid=\"a\"><ping active=\"\"/></app></request>", .invalidContent, "error-unsupportedProtocol",
             "request/app[1]/ping@active is \"\", not an integer"),
            ("<request protocol=\"3.0\"><app appid=\"a\"><event eventtype=\"3\" eventresult=\"1\"/><event eventtype=\"x\" eventresult=\"0\"/></app></request>",
             .invalidContent, "error-unsupportedProtocol", "request/app[1]/event[2]@eventtype is \"x\", not an integer"),
            ("<request protocol=\"3.0\"><app appid=\"a\"><event eventtype=\"3\"/></app></request>", .invalidContent,
             "error-unsupportedProtocol", "request/app[1]/event[1] has no eventresult"),
            ("<request protocol=\"3.0\"><app appid=\"a\"><event eventtype=\"3\" eventresult=\"0\" errorcode=\"+44\"/></app></request>",
             .invalidContent, "error-unsupportedProtocol", "request/app[1]/event[1]@errorcode is \"+44\", not an integer"),
        ]
        for (body, kind, status, message) in cases {
            let error = refusal(body)
            XCTAssertEqual(error?.kind, kind, body)
            XCTAssertEqual(error?.status, status, body)
            XCTAssertEqual(error?.description, message, body)
        }
    }

    func testMalformedXMLCarriesTheReadersLineAndColumn() {
        let error = refusal("<request protocol=\"3.0\">\n  <app appid=\"a\" appid=\"b\"/>\n</request>")
        XCTAssertEqual(error?.kind, .malformedXML)
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.column, 18)
        XCTAssertEqual(error?.status, "error-unsupportedProtocol")
        XCTAssertEqual(error?.description, "line 2, column 18: attribute appid appears twice in <app>")
    }

    private func refusal(_ body: String) -> OmahaError? {
        do throws(OmahaError) {
            _ = try OmahaRequest(parsing: body)
            return nil
        } catch {
            return error
        }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
