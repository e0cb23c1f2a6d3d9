package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Branding (directory/branding.go): one row per tenant and locale in
// organizational_branding, and the tenant's version counter in
// organizational_branding_versions, bumped by every write in its
// transaction.

// bumpBrandingVersion moves the tenant's branding version on, in the
// write's transaction. The row lock it takes also serialises concurrent
// branding writes of one tenant.
func bumpBrandingVersion(ctx context.Context, tx *sqlx.Tx, tenantID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO organizational_branding_versions AS v (tenant_id, version) VALUES ($1, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1`, tenantID)
	return err
}

// BrandingVersion returns the tenant's branding version, 0 before any
// write.
func (s *Store) BrandingVersion(ctx context.Context, tenantID string) (int64, error) {
	if !directory.IsGUID(tenantID) {
		return 0, nil
	}
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT version FROM organizational_branding_versions WHERE tenant_id = $1`, tenantID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, translate(err, "postgres: branding version")
}

var brandingColumns = brandingColumnsOf("organizational_branding")

// brandingColumnsOf is the SELECT list of a branding row of table alias t.
func brandingColumnsOf(t string) string {
	return t + `.locale, ` + t + `.background_color, ` + t + `.sign_in_page_text, ` + t + `.username_hint_text, ` +
		t + `.banner_logo_type, octet_length(` + t + `.banner_logo), ` + t + `.square_logo_type, octet_length(` + t + `.square_logo), ` +
		t + `.created_at, ` + t + `.updated_at`
}

func scanBranding(tenantID string, row interface{ Scan(...any) error }) (*directory.Branding, error) {
	b := &directory.Branding{TenantID: tenantID}
	var bannerType, squareType sql.NullString
	var bannerSize, squareSize sql.NullInt64
	if err := row.Scan(&b.Locale, &b.BackgroundColor, &b.SignInPageText, &b.UsernameHintText,
		&bannerType, &bannerSize, &squareType, &squareSize, &b.CreatedAt, &b.UpdatedAt); err != nil {
		return nil, err
	}
	if bannerType.Valid {
		b.BannerLogo = &directory.BrandingImage{ContentType: bannerType.String, Size: int(bannerSize.Int64)}
	}
	if squareType.Valid {
		b.SquareLogo = &directory.BrandingImage{ContentType: squareType.String, Size: int(squareSize.Int64)}
	}
	return b, nil
}

// ListBranding returns the tenant's brandings, default first, with the
// version they were read at, in one statement (one snapshot), so a cached
// copy is never newer than its version says.
func (s *Store) ListBranding(ctx context.Context, tenantID string) ([]*directory.Branding, int64, error) {
	const op = "postgres: list branding"
	if !directory.IsGUID(tenantID) {
		return nil, 0, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT v.version, b.locale IS NOT NULL, `+brandingColumnsOf("b")+`
		FROM (SELECT coalesce((SELECT version FROM organizational_branding_versions WHERE tenant_id = $1), 0) AS version) v
		LEFT JOIN organizational_branding b ON b.tenant_id = $1
		ORDER BY b.locale COLLATE "C"`, tenantID)
	if err != nil {
		return nil, 0, translate(err, op)
	}
	defer rows.Close()
	var out []*directory.Branding
	var version int64
	for rows.Next() {
		var present bool
		var locale sql.NullString
		b := &directory.Branding{TenantID: tenantID}
		var created, updated sql.NullTime
		var bannerType, squareType sql.NullString
		var bannerSize, squareSize sql.NullInt64
		if err := rows.Scan(&version, &present, &locale, &b.BackgroundColor, &b.SignInPageText, &b.UsernameHintText,
			&bannerType, &bannerSize, &squareType, &squareSize, &created, &updated); err != nil {
			return nil, 0, translate(err, op)
		}
		if !present {
			continue
		}
		b.Locale, b.CreatedAt, b.UpdatedAt = locale.String, created.Time, updated.Time
		if bannerType.Valid {
			b.BannerLogo = &directory.BrandingImage{ContentType: bannerType.String, Size: int(bannerSize.Int64)}
		}
		if squareType.Valid {
			b.SquareLogo = &directory.BrandingImage{ContentType: squareType.String, Size: int(squareSize.Int64)}
		}
		out = append(out, b)
	}
	return out, version, translate(rows.Err(), op)
}

// ensureDefaultBranding creates the tenant's default branding row when it
// is missing. KindNotFound when the tenant does not exist.
func ensureDefaultBranding(ctx context.Context, tx *sqlx.Tx, tenantID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO organizational_branding (tenant_id, locale) VALUES ($1, '')
		ON CONFLICT (tenant_id, locale) DO NOTHING`, tenantID)
	return err
}

// UpsertBranding applies in to locale's branding (directory.BrandingStore).
func (s *Store) UpsertBranding(ctx context.Context, tenantID, locale string, create bool, in directory.BrandingInput, ev *directory.AuditEvent) (*directory.Branding, error) {
	const op = "postgres: write branding"
	if !directory.IsGUID(tenantID) {
		return nil, directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	var out *directory.Branding
	err := s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		if err := bumpBrandingVersion(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := ensureDefaultBranding(ctx, tx, tenantID); err != nil {
			return err
		}
		if locale != "" {
			if create {
				res, err := tx.ExecContext(ctx, `INSERT INTO organizational_branding (tenant_id, locale) VALUES ($1, $2)
					ON CONFLICT (tenant_id, locale) DO NOTHING`, tenantID, locale)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n == 0 {
					return directory.Errorf(directory.KindConflict, "A branding localization with id '%s' already exists.", locale)
				}
			}
		}
		// Each given property is set (a null clears it); the others keep
		// their values.
		set := func(p *directory.Nullable[string]) (bool, *string) {
			if p == nil {
				return false, nil
			}
			return true, p.Value
		}
		setColor, color := set(in.BackgroundColor)
		setText, text := set(in.SignInPageText)
		setHint, hint := set(in.UsernameHintText)
		row := tx.QueryRowContext(ctx, `UPDATE organizational_branding SET
				background_color   = CASE WHEN $3 THEN $4 ELSE background_color END,
				sign_in_page_text  = CASE WHEN $5 THEN $6 ELSE sign_in_page_text END,
				username_hint_text = CASE WHEN $7 THEN $8 ELSE username_hint_text END,
				updated_at = now()
			WHERE tenant_id = $1 AND locale = $2
			RETURNING `+brandingColumns,
			tenantID, locale, setColor, color, setText, text, setHint, hint)
		b, err := scanBranding(tenantID, row)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", locale)
		}
		out = b
		return err
	})
	if err != nil {
		return nil, translateBranding(err, op)
	}
	return out, nil
}

// translateBranding maps a missing tenant (the foreign key) to not found.
func translateBranding(err error, op string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such tenant
		return directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	return translate(err, op)
}

// DeleteBrandingLocalization removes a localization without logos.
func (s *Store) DeleteBrandingLocalization(ctx context.Context, tenantID, locale string, ev *directory.AuditEvent) error {
	const op = "postgres: delete branding localization"
	if !directory.IsGUID(tenantID) || locale == "" {
		return directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	err := s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		if err := bumpBrandingVersion(ctx, tx, tenantID); err != nil {
			return err
		}
		var hasLogo bool
		err := tx.QueryRowContext(ctx, `SELECT banner_logo IS NOT NULL OR square_logo IS NOT NULL FROM organizational_branding
			WHERE tenant_id = $1 AND locale = $2 FOR UPDATE`, tenantID, locale).Scan(&hasLogo)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", locale)
		case err != nil:
			return err
		case hasLogo:
			return directory.Errorf(directory.KindInvalid, "Remove the localization's images (bannerLogo, squareLogo) before deleting it.")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM organizational_branding WHERE tenant_id = $1 AND locale = $2`, tenantID, locale)
		return err
	})
	return translateBranding(err, op)
}

// logoColumns maps a logo stream to its columns; the names reach SQL only
// through this table.
var logoColumns = map[string][2]string{
	directory.LogoBanner: {"banner_logo", "banner_logo_type"},
	directory.LogoSquare: {"square_logo", "square_logo_type"},
}

// PutBrandingLogo replaces (img nil: removes) a logo.
func (s *Store) PutBrandingLogo(ctx context.Context, tenantID, locale, name string, img *directory.BrandingImageData, ev *directory.AuditEvent) error {
	const op = "postgres: put branding logo"
	cols, ok := logoColumns[name]
	if !ok || !directory.IsGUID(tenantID) {
		return directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	var data []byte
	var ctype *string
	if img != nil {
		data, ctype = img.Data, &img.ContentType
	}
	err := s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		if err := bumpBrandingVersion(ctx, tx, tenantID); err != nil {
			return err
		}
		if locale == "" {
			if err := ensureDefaultBranding(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE organizational_branding SET `+cols[0]+` = $3, `+cols[1]+` = $4, updated_at = now()
			WHERE tenant_id = $1 AND locale = $2`, tenantID, locale, data, ctype)
		return deletedOne(res, err, op, directory.Errorf(directory.KindNotFound,
			"Resource '%s' does not exist or one of its queried reference-property objects are not present.", directory.BrandingLocaleID(locale)))
	})
	return translateBranding(err, op)
}

// BrandingLogo returns a logo's bytes.
func (s *Store) BrandingLogo(ctx context.Context, tenantID, locale, name string) (*directory.BrandingImageData, error) {
	cols, ok := logoColumns[name]
	notFound := directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", name)
	if !ok || !directory.IsGUID(tenantID) {
		return nil, notFound
	}
	var img directory.BrandingImageData
	var ctype sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT `+cols[0]+`, `+cols[1]+` FROM organizational_branding
		WHERE tenant_id = $1 AND locale = $2`, tenantID, locale).Scan(&img.Data, &ctype)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && !ctype.Valid:
		return nil, notFound
	case err != nil:
		return nil, translate(err, "postgres: read branding logo")
	}
	img.ContentType = ctype.String
	return &img, nil
}
