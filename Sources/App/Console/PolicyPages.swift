import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The policy (everyone reads it; the operator sets it).
enum PolicyPages: ConsoleArea {
    struct PolicyField: Encodable {
        var key: String
        var label: String
        var value: String
        var error: String?
    }

    struct PolicyPage: Encodable {
        var fields: [PolicyField]
        var editable: Bool
    }

    static let policyKeys = ["maxTermDays", "minTermDays", "minPieceFen", "maxFaceFen", "maxTier", "acceptanceWindowDays", "financingCutoffDays", "graceDays"]

    @Sendable static func policy(req: Request) async throws -> Response { try await policyPage(req, form: FormState(), error: nil) }

    static func policyPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let current = try await req.application.requireSequencer().read(\.policy).json
        let fields = policyKeys.map { key in
            PolicyField(key: key, label: req.tr("policy_\(key)"), value: form.values[key] ?? String(current[key]?.intValue ?? 0), error: form.errors[key])
        }
        return try await render(req, "operator/policy", title: "policy_title", page: PolicyPage(fields: fields, editable: viewer.role == .operator),
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    @Sendable static func setPolicy(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            var fields: [JSONKey: JSON] = [:]
            for key in policyKeys {
                guard let n = values[key].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else { throw LedgerError.invalid(key, "must be a whole number") }
                fields[key] = .int(n)
            }
            _ = try await OnboardingService.setPolicy(fields, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/policy", notice: "policy_set")
        } catch {
            var fieldNames: [String: String] = [:]
            for key in policyKeys { fieldNames["payload.policy.\(key)"] = key }
            let (message, state) = try formError(req, error, values: values, fieldNames: fieldNames)
            return try await policyPage(req, form: state, error: message)
        }
    }
}
