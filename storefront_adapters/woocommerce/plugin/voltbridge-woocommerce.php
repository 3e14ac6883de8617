<?php
/**
 * Plugin Name:          Voltbridge Crypto Payments for WooCommerce
 * Plugin URI:           https://github.com/voltbridge/voltbridge
 * Description:          Accept SOL, USDC and USDT through your own voltbridge gateway (VOLTXT plugin API).
 * Version:              1.0.0
 * Requires at least:    6.0
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * Author:               voltbridge
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          voltbridge-woocommerce
 * WC requires at least: 7.1
 * WC tested up to:      9.4
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

define( 'VOLTBRIDGE_WC_VERSION', '1.0.0' );
define( 'VOLTBRIDGE_WC_FILE', __FILE__ );

/**
 * Orders live in custom order tables (HPOS) on current WooCommerce; the plugin only touches orders through
 * WC_Order, so it says so, and WooCommerce keeps HPOS available with the plugin active.
 */
function voltbridge_wc_declare_compatibility() {
	if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', __FILE__, true );
	}
}
add_action( 'before_woocommerce_init', 'voltbridge_wc_declare_compatibility' );

/**
 * Loads the gateway once WooCommerce is loaded (plugins load in any order).
 */
function voltbridge_wc_init() {
	if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
		return; // WooCommerce is not active: nothing to hook into.
	}
	require_once __DIR__ . '/includes/class-voltbridge-client.php';
	require_once __DIR__ . '/includes/class-voltbridge-webhook.php';
	require_once __DIR__ . '/includes/class-wc-gateway-voltbridge.php';
	require_once __DIR__ . '/includes/admin.php';

	add_filter( 'woocommerce_payment_gateways', 'voltbridge_wc_add_gateway' );
	add_action( 'admin_post_voltbridge_test_connection', 'voltbridge_wc_test_connection' );
	add_action( 'admin_notices', 'voltbridge_wc_admin_notice' );
}
add_action( 'plugins_loaded', 'voltbridge_wc_init', 11 );

/**
 * Registers the gateway with WooCommerce.
 *
 * @param array $gateways Gateway class names.
 * @return array
 */
function voltbridge_wc_add_gateway( $gateways ) {
	$gateways[] = 'WC_Gateway_Voltbridge';
	return $gateways;
}
