import Core
import Foundation
import Ledger
import Vapor

/// An org's admin and its webhook endpoints, in the console: add one (its secret shown once),
/// read each one's deliveries and why it was disabled, delete one.
package enum WebhookPages: ConsoleArea {
    package struct EndpointView: Encodable {
        package var id: String
        package var url: String
        package var events: String
        package var status: String
        package var statusLabel: String
        package var disabledReason: String
        package var createdAt: String
    }

    package struct DeliveryView: Encodable {
        package var id: String
        package var eventType: String
        package var status: String
        package var statusLabel: String
        package var attempts: Int
        package var createdAt: String
        package var outcome: String
    }

    package struct WebhooksPage: Encodable {
        package var endpoints: [EndpointView]
        package var eventTypes: [String]
        package var secret: String
        package var form: FormState
        /// The endpoint whose deliveries are shown, if one is chosen.
        package var shown: EndpointView?
        package var deliveries: [DeliveryView]
    }

    static func view(_ e: WebhookEndpoint, _ p: Presenter) -> EndpointView {
        EndpointView(id: e.id, url: e.url, events: e.events.joined(separator: ", "), status: e.status, statusLabel: p.tr("webhook_status_\(e.status)"),
                     disabledReason: e.disabledReason ?? "", createdAt: Time.local(e.createdMs))
    }

    @Sendable package static func page(req: Request) async throws -> Response {
        try await page(req, form: FormState(), secret: "", error: nil)
    }

    static func page(_ req: Request, form: FormState, secret: String, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let p = try await Presenter.make(req)
        let endpoints = try await WebhookService.endpoints(for: viewer, app: req.application)
        var shown: EndpointView?
        var deliveries: [DeliveryView] = []
        if let id = req.query[String.self, at: "endpoint"], let endpoint = endpoints.first(where: { $0.id == id }) {
            shown = view(endpoint, p)
            deliveries = try await WebhookQueries.deliveries(of: endpoint.id, limit: 100, on: req.application.sql).map { d, attempts in
                let last = attempts.last
                let outcome = last.map { a in
                    "\(Time.local(a.atMs)) · " + (a.httpStatus.map { "HTTP \($0)" } ?? "") + (a.error.map { " " + $0 } ?? "") + " · \(a.durationMs) ms"
                } ?? ""
                return DeliveryView(id: d.id, eventType: d.eventType, status: d.status, statusLabel: p.tr("webhook_status_\(d.status)"), attempts: d.attempts,
                                    createdAt: Time.local(d.createdMs), outcome: outcome)
            }
        }
        let page = WebhooksPage(endpoints: endpoints.map { view($0, p) }, eventTypes: WebhookService.eventTypes, secret: secret, form: form, shown: shown, deliveries: deliveries)
        return try await render(req, "common/webhooks", title: "nav_webhooks", page: page, status: form.httpStatus, notice: notice(req), error: error)
    }

    /// The form: a URL and either every event or the ones ticked.
    @Sendable package static func create(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        let ticked = (try? req.content.get([String].self, at: "events")) ?? []
        let events = values["all"] == "on" || ticked.isEmpty ? ["*"] : ticked
        do {
            let created = try await WebhookService.register(url: values["url"] ?? "", events: events, by: viewer, app: req.application)
            // Shown on this answer only: never stored in a form or a link.
            return try await page(req, form: FormState(), secret: created.secret, error: nil)
        } catch {
            let (message, state) = try formError(req, error, values: values)
            return try await page(req, form: state, secret: "", error: message)
        }
    }

    @Sendable package static func delete(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        guard let id = req.parameters.get("id") else { throw Problem(.notFound, "no such webhook endpoint") }
        try await WebhookService.delete(id, by: viewer, app: req.application)
        return redirect("/webhooks", notice: "webhook_deleted")
    }
}
