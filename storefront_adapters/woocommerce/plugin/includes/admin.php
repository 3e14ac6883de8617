<?php
/**
 * Admin side: the "test connection" action on the settings page and its notice.
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * admin-post.php?action=voltbridge_test_connection: checks the saved settings against the gateway.
 */
function voltbridge_wc_test_connection() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		wp_die( esc_html__( 'You are not allowed to manage payment settings.', 'voltbridge-woocommerce' ), 403 );
	}
	check_admin_referer( 'voltbridge_test_connection' );

	$gateway = new WC_Gateway_Voltbridge();
	try {
		$data    = $gateway->client()->test_connection();
		$store   = isset( $data['store'] ) && is_array( $data['store'] ) ? $data['store'] : array();
		$message = sprintf(
			/* translators: 1: store name, 2: network */
			__( 'Voltbridge: connected to store "%1$s" on %2$s.', 'voltbridge-woocommerce' ),
			isset( $store['name'] ) ? (string) $store['name'] : '?',
			isset( $store['network'] ) ? (string) $store['network'] : '?'
		);
		if ( isset( $store['has_destination_wallet'] ) && ! $store['has_destination_wallet'] ) {
			$message .= ' ' . __( 'The store has no wallet yet: checkout will fail until it has one.', 'voltbridge-woocommerce' );
		}
		$notice = array( 'type' => 'success', 'message' => $message );
	} catch ( Voltbridge_Api_Error $error ) {
		$notice = array(
			'type'    => 'error',
			'message' => sprintf(
				/* translators: 1: error message, 2: error code */
				__( 'Voltbridge: connection failed: %1$s (%2$s).', 'voltbridge-woocommerce' ),
				$error->getMessage(),
				$error->error_code
			),
		);
	}
	set_transient( 'voltbridge_wc_notice_' . get_current_user_id(), $notice, 60 );
	wp_safe_redirect( admin_url( 'admin.php?page=wc-settings&tab=checkout&section=voltbridge' ) );
	exit;
}

/**
 * Shows the outcome of the last connection test once.
 */
function voltbridge_wc_admin_notice() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		return;
	}
	$key    = 'voltbridge_wc_notice_' . get_current_user_id();
	$notice = get_transient( $key );
	if ( ! is_array( $notice ) ) {
		return;
	}
	delete_transient( $key );
	$class = 'success' === $notice['type'] ? 'notice-success' : 'notice-error';
	echo '<div class="notice ' . esc_attr( $class ) . '"><p>' . esc_html( $notice['message'] ) . '</p></div>';
}

/**
 * While the store's currency is one the gateway cannot price, the method is hidden at checkout: say so.
 */
function voltbridge_wc_currency_notice() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		return;
	}
	$settings = get_option( 'woocommerce_voltbridge_settings', array() );
	$currency = get_woocommerce_currency();
	if ( ! is_array( $settings ) || 'yes' !== ( isset( $settings['enabled'] ) ? $settings['enabled'] : 'no' ) || WC_Gateway_Voltbridge::prices( $currency ) ) {
		return;
	}
	$message = sprintf(
		/* translators: 1: the store's currency, 2: the currencies the gateway prices */
		__( 'Voltbridge: crypto payments are hidden at checkout because the gateway cannot price orders in %1$s. It prices orders in %2$s.', 'voltbridge-woocommerce' ),
		$currency,
		implode( ', ', WC_Gateway_Voltbridge::PRICED_CURRENCIES )
	);
	echo '<div class="notice notice-warning"><p>' . esc_html( $message ) . '</p></div>';
}
