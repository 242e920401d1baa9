-- What keeps 0028's disclosure totals: a row trigger on receivables. Each row adds what its
-- status says to its issuer's totals; an update takes the old row's share away first.
CREATE FUNCTION cascade_disclosure_share(r receivables, sign BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO issuer_disclosures (org_id, outstanding_fen, outstanding_count, overdue_fen, overdue_count, on_time_count, late_count)
    VALUES (r.issuer_id,
            sign * CASE WHEN r.status IN ('active', 'overdue') THEN r.face_fen - r.paid_fen ELSE 0 END,
            sign * CASE WHEN r.status IN ('active', 'overdue') THEN 1 ELSE 0 END,
            sign * CASE WHEN r.status = 'overdue' THEN r.face_fen - r.paid_fen ELSE 0 END,
            sign * CASE WHEN r.status = 'overdue' THEN 1 ELSE 0 END,
            sign * CASE WHEN r.status = 'settled' AND r.overdue_on IS NULL THEN 1 ELSE 0 END,
            sign * CASE WHEN r.status = 'settled' AND r.overdue_on IS NOT NULL THEN 1 ELSE 0 END)
    ON CONFLICT (org_id) DO UPDATE SET
        outstanding_fen = issuer_disclosures.outstanding_fen + EXCLUDED.outstanding_fen,
        outstanding_count = issuer_disclosures.outstanding_count + EXCLUDED.outstanding_count,
        overdue_fen = issuer_disclosures.overdue_fen + EXCLUDED.overdue_fen,
        overdue_count = issuer_disclosures.overdue_count + EXCLUDED.overdue_count,
        on_time_count = issuer_disclosures.on_time_count + EXCLUDED.on_time_count,
        late_count = issuer_disclosures.late_count + EXCLUDED.late_count;
END
$$
-- split
CREATE FUNCTION cascade_disclosure_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.status = NEW.status AND OLD.face_fen = NEW.face_fen AND OLD.paid_fen = NEW.paid_fen AND OLD.issuer_id = NEW.issuer_id
           AND OLD.overdue_on IS NOT DISTINCT FROM NEW.overdue_on THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN PERFORM cascade_disclosure_share(OLD, -1); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM cascade_disclosure_share(NEW, 1); END IF;
    RETURN NULL;
END
$$
-- split
CREATE TRIGGER receivables_disclosures AFTER INSERT OR UPDATE OR DELETE ON receivables FOR EACH ROW EXECUTE FUNCTION cascade_disclosure_totals()
