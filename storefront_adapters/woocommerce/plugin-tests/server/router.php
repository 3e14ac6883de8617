<?php
/**
 * Router of `php -S`: a shop whose only page is WooCommerce's wc-api endpoint, on the stubs and the
 * file-backed order store (VB_ORDER_STORE). Used by tests/integration/test_woocommerce_plugin.py.
 */

require __DIR__ . '/../bootstrap.php';

$api = isset( $_GET['wc-api'] ) ? strtolower( sanitize_text_field( wp_unslash( $_GET['wc-api'] ) ) ) : '';
if ( '' === $api ) {
	http_response_code( 404 );
	echo 'not found';
	return true;
}
// As WC_API::handle_api_requests: load the gateways (their constructors hook the actions), then fire it.
WC()->payment_gateways();
do_action( 'woocommerce_api_' . $api );
// Nothing answered: WooCommerce ends with -1 and 400.
http_response_code( 400 );
echo '-1';
return true;
